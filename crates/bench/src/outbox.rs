//! Scenario 4: the durable outbox (`g360-mail-outbox`) on SQLite and
//! PostgreSQL: how fast mails are queued (one enqueuer, then 8 at once),
//! how fast a worker drains them through a sender that accepts at once
//! (the outbox's own overhead), the database bytes per mail, and a drain
//! through the Office 365 provider to the Graph emulator.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use g360_mail_core::{
    EmailAddress, Error, MailProvider, MessageUid, OutgoingMessage, Result as MailResult,
    SendReceipt,
};
use g360_mail_o365::{GRAPH_MAILBOX_CONCURRENCY, O365Factory, O365Provider};
use g360_mail_outbox::{Outbox, OutboxOptions, OutboxSender, Worker, WorkerOptions};
use g360_mail_testkit::graph::{Endpoint, GraphEmulator};
use serde::Serialize;
use sqlx::Connection as _;
use tokio::runtime::Handle;

use crate::Options;
use crate::util::{Pass, SERVER_THREAD, drive, percentile_ms, round, split, threads_cpu_ns};

/// Sending users (and mailboxes) the mails are spread over.
pub(crate) const MAILBOXES: usize = 8;
/// Enqueuers of the concurrent enqueue pass.
pub(crate) const ENQUEUERS: usize = 8;
/// Sends in flight per mailbox while draining through the instant sender.
const IN_FLIGHT_PER_MAILBOX: u32 = 16;
/// The PostgreSQL server of the outbox's tests, unless
/// `G360_MAIL_TEST_PG_URL` says otherwise.
const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// The recipient: outside the emulated tenant, so no Inbox copies are kept.
const RECIPIENT: &str = "cliente@fabrikam.example";

/// What scenario 4 reports.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct OutboxReport {
    /// Whether at least one backend was measured.
    pub(crate) measured: bool,
    /// Why a backend (or the whole scenario) was not measured; empty when
    /// everything was.
    pub(crate) reason: String,
    /// Mails per enqueue pass (the drain drains both passes: 2 × this).
    pub(crate) mails: usize,
    /// Enqueuers of the concurrent enqueue pass.
    pub(crate) enqueuers: usize,
    /// Sending mailboxes the mails are spread over.
    pub(crate) mailboxes: usize,
    /// The embedded default: a SQLite file in a temporary directory.
    pub(crate) sqlite: Option<BackendReport>,
    /// A fresh schema on a PostgreSQL server, dropped afterwards.
    pub(crate) postgres: Option<BackendReport>,
    /// The SQLite outbox drained through the Office 365 provider to the
    /// Graph emulator, `mails / 2` mails (`null` when it could not run).
    pub(crate) graph_drain: Option<GraphDrain>,
    /// PostgreSQL drained by 1, 2 and 4 workers at once, each with its own
    /// outbox (pool and local state, as separate processes have), limits
    /// out of the way, the mails spread over [`MANY_MAILBOXES`] mailboxes.
    pub(crate) postgres_workers: Vec<WorkersDrain>,
}

/// Mailboxes of the multi-worker drain: many, so that the per-mailbox
/// limits (taken through the database like in production) stay out of the
/// way.
pub(crate) const MANY_MAILBOXES: usize = 256;
/// Worker counts of the multi-worker drain.
const WORKER_COUNTS: [usize; 3] = [1, 2, 4];

/// The PostgreSQL drain by one worker (8 mailboxes × 16 in flight) of the
/// per-process design, before the limits moved into the database (full run
/// in `docs/performance.md`, commit 5d9b2d1): issue 11.6 asks for at least
/// 0.8 × this.
pub(crate) const PER_PROCESS_DRAIN_PER_SECOND: f64 = 1_601.0;

/// One multi-worker drain.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct WorkersDrain {
    /// Workers draining at once.
    pub(crate) workers: usize,
    /// Mails queued before the drain.
    pub(crate) mails: usize,
    /// Mails the workers sent, together.
    pub(crate) sent: u64,
    /// Wall time from the start of the workers to the last one's end.
    pub(crate) seconds: f64,
    /// `sent / seconds`.
    pub(crate) per_second: f64,
    /// Mails each worker tries at once.
    pub(crate) concurrency: usize,
    /// The first error, if any.
    pub(crate) error: Option<String>,
}

impl OutboxReport {
    /// Scenario 4 not run at all (`--only` without `outbox`).
    pub(crate) fn not_measured() -> Self {
        Self::not_measured_because("not run (excluded by --only)".into())
    }

    /// Scenario 4 not run, for `reason`.
    pub(crate) fn not_measured_because(reason: String) -> Self {
        OutboxReport { measured: false, reason, ..OutboxReport::default() }
    }
}

/// The figures of one database.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct BackendReport {
    /// `sqlite` or `postgres`.
    pub(crate) backend: &'static str,
    /// Whether this backend was measured; when not, `reason` says why.
    pub(crate) measured: bool,
    /// Why it was not measured.
    pub(crate) reason: Option<String>,
    /// Where the database was and how it was set up.
    pub(crate) database: String,
    /// `mails` enqueues one after another, each durable when it returns.
    pub(crate) enqueue: Option<OutboxPass>,
    /// `mails` enqueues by `enqueuers` tasks at once.
    pub(crate) enqueue_concurrent: Option<OutboxPass>,
    /// One worker draining every mail of both enqueue passes through a
    /// sender that accepts at once.
    pub(crate) drain: Option<DrainPass>,
    /// Database bytes per queued mail: the tables and indexes after both
    /// enqueue passes, divided by the mails (SQLite: `page_count ×
    /// page_size`; PostgreSQL: `pg_total_relation_size` of the schema's tables).
    pub(crate) bytes_per_queued_mail: Option<u64>,
    /// The same after the drain: each mail sent, with its attempt record.
    pub(crate) bytes_per_sent_mail: Option<u64>,
}

impl BackendReport {
    fn not_measured(backend: &'static str, database: String, reason: String) -> Self {
        BackendReport {
            backend,
            measured: false,
            reason: Some(reason),
            database,
            enqueue: None,
            enqueue_concurrent: None,
            drain: None,
            bytes_per_queued_mail: None,
            bytes_per_sent_mail: None,
        }
    }
}

/// The figures of one enqueue pass.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct OutboxPass {
    /// Mails queued successfully.
    pub(crate) items: usize,
    /// Wall-clock seconds.
    pub(crate) seconds: f64,
    /// Mails per second.
    pub(crate) per_second: f64,
    /// Median latency of one enqueue, in milliseconds.
    pub(crate) p50_ms: Option<f64>,
    /// 99th percentile latency of one enqueue, in milliseconds.
    pub(crate) p99_ms: Option<f64>,
    /// CPU of the bench process per mail (every thread, SQLite's included,
    /// but not the Graph emulator's; not the PostgreSQL server's), in
    /// microseconds.
    pub(crate) process_cpu_us_per_item: f64,
    /// Failed enqueues.
    pub(crate) errors: usize,
    /// The first failure, for diagnosis.
    pub(crate) first_error: Option<String>,
}

impl OutboxPass {
    fn from_pass(mut pass: Pass, items: usize) -> Self {
        pass.latencies.sort_unstable();
        let secs = pass.elapsed.as_secs_f64().max(1e-9);
        let done = items.saturating_sub(pass.errors.len());
        OutboxPass {
            items: done,
            seconds: round(secs, 4),
            per_second: round(done as f64 / secs, 1),
            p50_ms: percentile_ms(&pass.latencies, 0.50),
            p99_ms: percentile_ms(&pass.latencies, 0.99),
            process_cpu_us_per_item: cpu_per_item(pass.client_cpu_ns, done),
            errors: pass.errors.len(),
            first_error: pass.errors.first().cloned(),
        }
    }
}

/// The figures of one drain.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct DrainPass {
    /// Mails queued when the worker started.
    pub(crate) mails: usize,
    /// Mails the worker reported sent.
    pub(crate) sent: u64,
    /// Send calls the sender received.
    pub(crate) sender_calls: u64,
    /// Mails still not `sent` afterwards (queued, sending or failed).
    pub(crate) left_unsent: u64,
    /// Wall-clock seconds of `Worker::run_until_empty`.
    pub(crate) seconds: f64,
    /// Mails sent per second.
    pub(crate) per_second: f64,
    /// CPU of the bench process per mail (as for enqueues), in microseconds.
    pub(crate) process_cpu_us_per_item: f64,
    /// `WorkerOptions::concurrency`.
    pub(crate) worker_concurrency: usize,
    /// `OutboxOptions::max_in_flight_per_mailbox`.
    pub(crate) max_in_flight_per_mailbox: u32,
    /// `OutboxOptions::messages_per_minute` (raised so it does not limit).
    pub(crate) messages_per_minute: u32,
    /// The run's error, when it ended with one.
    pub(crate) error: Option<String>,
}

/// The SQLite outbox drained through the Office 365 provider to the Graph
/// emulator, next to the same provider sending directly.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct GraphDrain {
    /// The drain, paced at Graph's limit of 4 in flight per mailbox.
    pub(crate) drain: DrainPass,
    /// The same mails sent directly by the providers, 8 mailboxes × 4 in
    /// flight, no outbox (mails/s).
    pub(crate) direct_per_second: f64,
    /// drain.per_second / direct_per_second.
    pub(crate) ratio: f64,
    /// `sendMail` requests the emulator answered during the drain.
    pub(crate) requests: usize,
    /// Most requests in flight for one mailbox during the drain, as the
    /// emulator counted them (Graph's limit, 4, is enforced with 429).
    pub(crate) max_in_flight_seen: usize,
}

/// Runs scenario 4.
pub(crate) async fn run(opts: &Options, servers: &Handle) -> OutboxReport {
    let n = opts.outbox_mails.max(1);
    let mut report = OutboxReport {
        measured: false,
        reason: String::new(),
        mails: n,
        enqueuers: ENQUEUERS,
        mailboxes: MAILBOXES,
        ..OutboxReport::default()
    };
    let mut reasons = Vec::new();

    let sqlite = match tempfile::tempdir() {
        Ok(dir) => {
            let path = dir.path().join("outbox.db");
            let url = format!("sqlite://{}?mode=rwc", path.display());
            let database = "a SQLite file in a temporary directory (WAL, synchronous = FULL)";
            let r = measure_backend("sqlite", database.into(), &url, n, sqlite_bytes(&url)).await;
            drop(dir);
            r
        }
        Err(e) => BackendReport::not_measured(
            "sqlite",
            "a SQLite file".into(),
            format!("no temporary directory: {e}"),
        ),
    };
    if let Some(r) = &sqlite.reason {
        reasons.push(format!("SQLite: {r}"));
    }
    report.sqlite = Some(sqlite);

    let postgres = measure_postgres(n).await;
    if let Some(r) = &postgres.reason {
        reasons.push(format!("PostgreSQL: {r}"));
    }
    report.postgres = Some(postgres);

    match measure_postgres_workers(n).await {
        Ok(rows) => report.postgres_workers = rows,
        Err(e) => reasons.push(format!("PostgreSQL drain by several workers: {e}")),
    }

    match graph_drain(n.div_ceil(2), servers).await {
        Ok(g) => report.graph_drain = Some(g),
        Err(e) => reasons.push(format!("drain through the Graph emulator: {e}")),
    }

    report.measured =
        [&report.sqlite, &report.postgres].iter().any(|b| b.as_ref().is_some_and(|b| b.measured));
    report.reason = reasons.join("; ");
    report
}

fn cpu_per_item(ns: u64, items: usize) -> f64 {
    if items == 0 { 0.0 } else { round(ns as f64 / 1000.0 / items as f64, 1) }
}

/// CPU time of the live threads of the process but the in-process servers'
/// (the Graph emulator), in nanoseconds: the runtimes', SQLite's.
fn process_cpu_ns() -> u64 {
    threads_cpu_ns("").saturating_sub(threads_cpu_ns(SERVER_THREAD))
}

/// How one backend's database size is read.
type SizeProbe =
    Box<dyn Fn() -> std::pin::Pin<Box<dyn Future<Output = Option<u64>> + Send>> + Send + Sync>;

fn sqlite_bytes(url: &str) -> SizeProbe {
    let url = url.to_owned();
    Box::new(move || {
        let url = url.clone();
        Box::pin(async move {
            let mut conn = sqlx::SqliteConnection::connect(&url).await.ok()?;
            let bytes: i64 = sqlx::query_scalar(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            )
            .fetch_one(&mut conn)
            .await
            .ok()?;
            let _ = conn.close().await;
            u64::try_from(bytes).ok()
        })
    })
}

fn postgres_bytes(base: &str, schema: &str) -> SizeProbe {
    let base = base.to_owned();
    let schema = schema.to_owned();
    Box::new(move || {
        let base = base.clone();
        let schema = schema.clone();
        Box::pin(async move {
            let mut conn = sqlx::PgConnection::connect(&base).await.ok()?;
            let bytes: Option<i64> = sqlx::query_scalar(
                "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relkind = 'r'",
            )
            .bind(&schema)
            .fetch_one(&mut conn)
            .await
            .ok()?;
            let _ = conn.close().await;
            bytes.and_then(|b| u64::try_from(b).ok())
        })
    })
}

/// Options that let the outbox run as fast as it can: pacing limits far
/// above what the drain reaches.
fn fast_options(in_flight: u32) -> OutboxOptions {
    OutboxOptions {
        messages_per_minute: 10_000_000,
        max_in_flight_per_mailbox: in_flight,
        max_connections: 8,
        ..OutboxOptions::default()
    }
}

fn worker_options(concurrency: usize) -> WorkerOptions {
    WorkerOptions {
        concurrency,
        poll_interval: Duration::from_millis(50),
        worker_id: "bench-worker".into(),
    }
}

async fn measure_backend(
    backend: &'static str,
    database: String,
    url: &str,
    n: usize,
    size: SizeProbe,
) -> BackendReport {
    let in_flight = IN_FLIGHT_PER_MAILBOX;
    let outbox = match Outbox::open(url, fast_options(in_flight)).await {
        Ok(o) => o,
        Err(e) => {
            return BackendReport::not_measured(backend, database, format!("cannot open: {e}"));
        }
    };
    // Warm-up (unmeasured): the pool's connections, the statements' caches.
    let warm = enqueue_pass(&outbox, 16, ENQUEUERS, 0).await;
    let enqueue = OutboxPass::from_pass(enqueue_pass(&outbox, n, 1, 16).await, n);
    let enqueue_concurrent =
        OutboxPass::from_pass(enqueue_pass(&outbox, n, ENQUEUERS, 16 + n).await, n);
    let queued = 16 - warm.errors.len() + enqueue.items + enqueue_concurrent.items;
    let bytes_per_queued_mail = size().await.map(|b| b / queued.max(1) as u64);

    let sender = Arc::new(InstantSender::default());
    let concurrency = MAILBOXES * in_flight as usize;
    let drain = drain(&outbox, sender.clone(), queued, concurrency, sender.calls_counter()).await;
    let bytes_per_sent_mail = size().await.map(|b| b / queued.max(1) as u64);

    BackendReport {
        backend,
        measured: true,
        reason: None,
        database,
        enqueue: Some(enqueue),
        enqueue_concurrent: Some(enqueue_concurrent),
        drain: Some(drain),
        bytes_per_queued_mail,
        bytes_per_sent_mail,
    }
}

/// `n` enqueues by `enqueuers` tasks, mails numbered from `offset`.
async fn enqueue_pass(outbox: &Outbox, n: usize, enqueuers: usize, offset: usize) -> Pass {
    let jobs = split(n, 1, |_, i| offset + i);
    let outbox = outbox.clone();
    let cpu0 = process_cpu_ns();
    let mut pass = drive(jobs, enqueuers, move |_, i: usize| {
        let outbox = outbox.clone();
        async move {
            let message = message(i)?;
            outbox.enqueue(&user(i), &message).await.map(|_| ()).map_err(|e| e.to_string())
        }
    })
    .await;
    pass.client_cpu_ns = process_cpu_ns().saturating_sub(cpu0);
    pass
}

/// Runs a worker until the outbox is empty.
async fn drain(
    outbox: &Outbox,
    sender: Arc<dyn OutboxSender>,
    queued: usize,
    concurrency: usize,
    calls: Arc<AtomicU64>,
) -> DrainPass {
    let worker = Worker::new(outbox.clone(), sender, worker_options(concurrency));
    let cpu0 = process_cpu_ns();
    let started = Instant::now();
    let result = worker.run_until_empty().await;
    let elapsed = started.elapsed();
    let cpu = process_cpu_ns().saturating_sub(cpu0);
    let (sent, error) = match result {
        Ok(s) => (s.sent, None),
        Err(e) => (0, Some(e.to_string())),
    };
    let left_unsent = match outbox.status().await {
        Ok(s) => s.queued + s.sending + s.failed,
        Err(_) => queued as u64,
    };
    let done = usize::try_from(sent).unwrap_or(usize::MAX);
    let options = outbox.options();
    DrainPass {
        mails: queued,
        sent,
        sender_calls: calls.load(Ordering::Relaxed),
        left_unsent,
        seconds: round(elapsed.as_secs_f64(), 4),
        per_second: round(sent as f64 / elapsed.as_secs_f64().max(1e-9), 1),
        process_cpu_us_per_item: cpu_per_item(cpu, done),
        worker_concurrency: concurrency,
        max_in_flight_per_mailbox: options.max_in_flight_per_mailbox,
        messages_per_minute: options.messages_per_minute,
        error,
    }
}

/// A fresh schema on the PostgreSQL server, measured, then dropped.
async fn measure_postgres(n: usize) -> BackendReport {
    #[allow(clippy::disallowed_methods, reason = "the same override as the outbox's tests")]
    let base = std::env::var("G360_MAIL_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.into());
    let shown = redact(&base);
    let schema = format!("g360_bench_outbox_{}", uuid::Uuid::new_v4().simple());
    let database =
        format!("a fresh schema on the PostgreSQL server at {shown}, dropped afterwards");
    let connect = tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect(&base));
    let mut conn = match connect.await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            return BackendReport::not_measured(
                "postgres",
                database,
                format!("no PostgreSQL server at {shown}: {e}"),
            );
        }
        Err(_) => {
            return BackendReport::not_measured(
                "postgres",
                database,
                format!("no PostgreSQL server at {shown}: no answer in 5 s"),
            );
        }
    };
    let create = format!("CREATE SCHEMA {schema}");
    if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(create)).execute(&mut conn).await {
        return BackendReport::not_measured(
            "postgres",
            database,
            format!("cannot create a schema: {e}"),
        );
    }
    let guard = PgSchema { base: base.clone(), schema: schema.clone(), dropped: false };
    let version: Option<String> =
        sqlx::query_scalar("SHOW server_version").fetch_one(&mut conn).await.ok();
    let _ = conn.close().await;
    let database = match version {
        Some(v) => format!(
            "a fresh schema on PostgreSQL {v} at {shown} (synchronous_commit on), dropped afterwards"
        ),
        None => database,
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    let report =
        measure_backend("postgres", database, &url, n, postgres_bytes(&base, &schema)).await;
    guard.drop_now().await;
    report
}

/// Drains `n` mails of [`MANY_MAILBOXES`] mailboxes from a fresh PostgreSQL
/// schema with 1, 2 and 4 workers in turn.
async fn measure_postgres_workers(n: usize) -> Result<Vec<WorkersDrain>, String> {
    #[allow(clippy::disallowed_methods, reason = "the same override as the outbox's tests")]
    let base = std::env::var("G360_MAIL_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.into());
    let connect = tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect(&base));
    let mut conn = match connect.await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return Err(format!("no PostgreSQL server at {}: {e}", redact(&base))),
        Err(_) => return Err(format!("no PostgreSQL server at {}", redact(&base))),
    };
    let schema = format!("g360_bench_workers_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .map_err(|e| format!("cannot create a schema: {e}"))?;
    let _ = conn.close().await;
    let guard = PgSchema { base: base.clone(), schema: schema.clone(), dropped: false };
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    let mut rows = Vec::new();
    // Twice the pass, as the one-worker drain: at 3,000 mails/s a pass
    // of 2,000 would be over before the workers are up to speed.
    for workers in WORKER_COUNTS {
        rows.push(workers_drain(&url, workers, 2 * n).await);
    }
    guard.drop_now().await;
    Ok(rows)
}

async fn workers_drain(url: &str, workers: usize, n: usize) -> WorkersDrain {
    let concurrency = 64;
    let mut row = WorkersDrain {
        workers,
        mails: n,
        sent: 0,
        seconds: 0.0,
        per_second: 0.0,
        concurrency,
        error: None,
    };
    let mut outboxes = Vec::new();
    for _ in 0..workers {
        match Outbox::open(url, fast_options(IN_FLIGHT_PER_MAILBOX)).await {
            Ok(o) => outboxes.push(o),
            Err(e) => {
                row.error = Some(e.to_string());
                return row;
            }
        }
    }
    let outbox = outboxes[0].clone();
    let pass = drive(split(n, 1, |_, i| i), ENQUEUERS, move |_, i: usize| {
        let outbox = outbox.clone();
        async move {
            let message = message(i)?;
            let user = format!("buzon{}", i % MANY_MAILBOXES);
            outbox.enqueue(&user, &message).await.map(|_| ()).map_err(|e| e.to_string())
        }
    })
    .await;
    if let Some(e) = pass.errors.first() {
        row.error = Some(e.clone());
        return row;
    }
    let started = Instant::now();
    let runs: Vec<_> = outboxes
        .into_iter()
        .enumerate()
        .map(|(k, o)| {
            let options = WorkerOptions {
                worker_id: format!("bench-worker-{k}"),
                ..worker_options(concurrency)
            };
            let worker = Worker::new(o, Arc::new(InstantSender::default()), options);
            tokio::spawn(async move { worker.run_until_empty().await })
        })
        .collect();
    for run in runs {
        match run.await {
            Ok(Ok(s)) => row.sent += s.sent,
            Ok(Err(e)) => row.error = row.error.take().or(Some(e.to_string())),
            Err(e) => row.error = row.error.take().or(Some(e.to_string())),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    row.seconds = round(elapsed, 4);
    row.per_second = round(row.sent as f64 / elapsed.max(1e-9), 1);
    row
}

/// The bench's schema: dropped by [`PgSchema::drop_now`], or when the
/// scenario panicked, on drop.
struct PgSchema {
    base: String,
    schema: String,
    dropped: bool,
}

impl PgSchema {
    async fn drop_now(mut self) {
        drop_schema(&self.base, &self.schema).await;
        self.dropped = true;
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let base = self.base.clone();
        let schema = self.schema.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                rt.block_on(drop_schema(&base, &schema));
            }
        })
        .join();
    }
}

async fn drop_schema(base: &str, schema: &str) {
    if let Ok(mut conn) = sqlx::PgConnection::connect(base).await {
        let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
        let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await;
        let _ = conn.close().await;
    }
}

/// The URL without its password.
fn redact(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, rest)), Some(at)) => match rest[..at - scheme.len() - 3].split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***{}", &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

/// The SQLite outbox drained through 8 Office 365 providers to the Graph
/// emulator, against the same providers sending the same number of mails
/// directly.
async fn graph_drain(n: usize, servers: &Handle) -> Result<GraphDrain, String> {
    let emu = servers.spawn(GraphEmulator::start()).await.map_err(|e| e.to_string())?;
    emu.configure(|o| o.concurrency_limit = Some(GRAPH_MAILBOX_CONCURRENCY as usize));
    let mailboxes: Vec<String> = (0..MAILBOXES).map(mailbox).collect();
    let refs: Vec<&str> = mailboxes.iter().map(String::as_str).collect();
    let setup = emu.quick_setup(&refs);
    let url = emu.url();
    let factory = O365Factory::new();
    let mut providers = HashMap::new();
    for (i, mb) in mailboxes.iter().enumerate() {
        let p = crate::graph_send::provider(&factory, &setup, &url, mb)?;
        providers.insert(user(i), Arc::new(p));
    }
    let sender = Arc::new(GraphSender { providers, calls: Arc::default() });

    // Direct: the providers alone, the drain's concurrency (8 × 4).
    let per_mailbox = GRAPH_MAILBOX_CONCURRENCY as usize;
    let direct = |count: usize, offset: usize| {
        let sender = sender.clone();
        let jobs = split(count, MAILBOXES, |_, i| offset + i);
        async move {
            drive(jobs, per_mailbox, move |_, i: usize| {
                let sender = sender.clone();
                async move {
                    let m = message(i)?;
                    sender.send(&user(i), &m).await.map(|_| ()).map_err(|e| e.to_string())
                }
            })
            .await
        }
    };
    direct(64, 0).await;
    let direct_pass = direct(n, 64).await;
    if let Some(e) = direct_pass.errors.first() {
        return Err(format!("direct send failed: {e}"));
    }
    let direct_per_second = n as f64 / direct_pass.elapsed.as_secs_f64().max(1e-9);

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db_url = format!("sqlite://{}?mode=rwc", dir.path().join("outbox.db").display());
    let outbox = Outbox::open(&db_url, fast_options(GRAPH_MAILBOX_CONCURRENCY))
        .await
        .map_err(|e| e.to_string())?;
    let queued = enqueue_pass(&outbox, n, ENQUEUERS, 64 + n).await;
    if let Some(e) = queued.errors.first() {
        return Err(format!("cannot enqueue: {e}"));
    }
    emu.reset_records();
    sender.calls.store(0, Ordering::Relaxed);
    let concurrency = MAILBOXES * per_mailbox;
    let drain = drain(&outbox, sender.clone(), n, concurrency, sender.calls.clone()).await;
    let requests = emu.requests_to(Endpoint::SendMail).len();
    let max_in_flight_seen = emu.max_concurrency_all().into_values().max().unwrap_or(0);
    drop(outbox);
    drop(dir);
    Ok(GraphDrain {
        ratio: crate::util::ratio(drain.per_second, direct_per_second),
        direct_per_second: round(direct_per_second, 1),
        drain,
        requests,
        max_in_flight_seen,
    })
}

/// The sending user of mail `i` (round robin over the mailboxes).
fn user(i: usize) -> String {
    format!("facturas{}", i % MAILBOXES + 1)
}

/// The mailbox of user number `i`.
fn mailbox(i: usize) -> String {
    format!("facturas{}@contoso.example", i % MAILBOXES + 1)
}

/// A small text mail (about 200 bytes of text).
fn message(i: usize) -> Result<OutgoingMessage, String> {
    OutgoingMessage::builder()
        .to_all([EmailAddress::new(RECIPIENT).map_err(|e| e.to_string())?])
        .subject(format!("Factura FV-2025-{i:06}"))
        .text(
            "Estimado cliente:\r\n\r\nLe enviamos la factura correspondiente a su pedido.\r\n\r\n\
             Atentamente,\r\nDepartamento de Administración",
        )
        .build()
        .map_err(|e| e.to_string())
}

/// Accepts every mail at once and counts them: the drain then measures the
/// outbox alone (claims, leases, attempt records, state changes).
#[derive(Debug, Default)]
struct InstantSender {
    calls: Arc<AtomicU64>,
}

impl InstantSender {
    fn calls_counter(&self) -> Arc<AtomicU64> {
        self.calls.clone()
    }
}

#[async_trait]
impl OutboxSender for InstantSender {
    async fn send(&self, _user: &str, message: &OutgoingMessage) -> MailResult<SendReceipt> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let uid = message.uid();
        Ok(SendReceipt::new("bench", uid, uid.internet_message_id("contoso.example")))
    }

    async fn find_sent(&self, _user: &str, _uid: MessageUid) -> MailResult<Option<SendReceipt>> {
        Ok(None)
    }

    fn mailbox(&self, user: &str) -> MailResult<String> {
        Ok(format!("{user}@contoso.example"))
    }

    fn can_look_up(&self, _user: &str) -> bool {
        true
    }
}

/// Sends through one Office 365 provider per user.
struct GraphSender {
    providers: HashMap<String, Arc<O365Provider>>,
    calls: Arc<AtomicU64>,
}

impl std::fmt::Debug for GraphSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphSender").field("users", &self.providers.len()).finish()
    }
}

impl GraphSender {
    fn provider(&self, user: &str) -> MailResult<&Arc<O365Provider>> {
        self.providers
            .get(user)
            .ok_or_else(|| Error::invalid_input(format!("no provider for {user}")))
    }
}

#[async_trait]
impl OutboxSender for GraphSender {
    async fn send(&self, user: &str, message: &OutgoingMessage) -> MailResult<SendReceipt> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.provider(user)?.send(message).await
    }

    async fn find_sent(&self, user: &str, uid: MessageUid) -> MailResult<Option<SendReceipt>> {
        self.provider(user)?.find_sent(uid).await
    }

    fn mailbox(&self, user: &str) -> MailResult<String> {
        self.provider(user)?;
        Ok(format!("{user}@contoso.example"))
    }

    fn can_look_up(&self, _user: &str) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
        assert_eq!(user(0), "facturas1");
        assert_eq!(user(MAILBOXES), "facturas1");
        assert_eq!(mailbox(7), "facturas8@contoso.example");
    }
}
