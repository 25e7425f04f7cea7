//! The g360-mail benchmark behind `cargo xtask bench`: g360-mail measured
//! side by side with a baseline that does the same network work without the
//! library, in one process run, on servers the bench starts on loopback.
//!
//! | Scenario | Ours | Baseline |
//! | --- | --- | --- |
//! | Graph send | `O365Provider::send` | raw `reqwest` POSTs of the same `sendMail` JSON, fixed bearer token |
//! | Graph read | `list_messages` (+ `get_message`) | a raw paging loop of the same requests |
//! | SMTP | one pooled connection | a new connection per mail |
//! | Outbox | enqueue and drain on SQLite and PostgreSQL (instant sender); drain through the Office 365 provider | the same providers sending directly |
//! | Memory | peak RSS of the release `g360-mail` binary | 4 × attachment + 20 MiB |
//!
//! [`run`] returns a [`Report`]: [`Report::table`] is the Markdown table
//! printed on stdout and written into `docs/performance.md`, and the report
//! serialises to `target/bench/report.json`. See `docs/performance.md`.

mod graph_read;
mod graph_send;
mod memory;
mod outbox;
mod report;
mod smtp;
mod util;

use std::path::PathBuf;
use std::time::Instant;

pub use report::{DOC_BEGIN, DOC_END, Report, fill_doc};

use outbox::OutboxReport;
use report::Machine;
use util::{CLIENT_THREAD, SERVER_THREAD};

/// What to run and how big. Start from [`Options::full`] or
/// [`Options::quick`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Whether this is the small development run.
    pub quick: bool,
    /// Text mails per side and concurrency (Graph send).
    pub mails: usize,
    /// Mails with a 1 MiB attachment per side and concurrency (Graph send).
    pub large_mails: usize,
    /// Requests of the emulator capacity probe.
    pub capacity_requests: usize,
    /// Messages in the Inbox, all listed without bodies (Graph read).
    pub read_messages: usize,
    /// Messages read with their bodies (Graph read).
    pub read_with_bodies: usize,
    /// `$top` of list requests.
    pub page_size: u32,
    /// Mails per side (SMTP).
    pub smtp_mails: usize,
    /// Rows of the bulk CSV run (memory).
    pub bulk_rows: usize,
    /// `--concurrency` of the bulk CSV run.
    pub bulk_concurrency: u16,
    /// The release `g360-mail` binary; the memory scenario is skipped without it.
    pub cli: Option<PathBuf>,
    /// Mails per enqueue pass of the outbox scenario (the drain drains
    /// twice as many).
    pub outbox_mails: usize,
    /// Only these scenarios (`graph-send`, `graph-read`, `smtp`, `outbox`,
    /// `memory`); empty = all.
    pub only: Vec<String>,
}

impl Options {
    /// The sizes of the issue: 2,000 mails, 10,000 messages.
    pub fn full() -> Self {
        Options {
            quick: false,
            mails: 2_000,
            large_mails: 200,
            capacity_requests: 8_000,
            read_messages: 10_000,
            read_with_bodies: 2_000,
            page_size: 100,
            smtp_mails: 300,
            outbox_mails: 2_000,
            bulk_rows: 2_000,
            bulk_concurrency: 8,
            cli: None,
            only: Vec::new(),
        }
    }

    /// Small sizes for development and the crate's test.
    pub fn quick() -> Self {
        Options {
            quick: true,
            mails: 120,
            large_mails: 16,
            capacity_requests: 400,
            read_messages: 600,
            read_with_bodies: 100,
            page_size: 50,
            smtp_mails: 40,
            outbox_mails: 200,
            bulk_rows: 100,
            ..Options::full()
        }
    }

    fn wants(&self, scenario: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == scenario)
    }
}

/// The scenario names, in running order.
pub const SCENARIOS: &[&str] = &["graph-send", "graph-read", "smtp", "outbox", "memory"];

/// Runs the scenarios on two runtimes of this machine's core count each:
/// one for the in-process servers, one for the clients (ours and baseline),
/// so that client CPU can be told apart from server CPU.
///
/// A scenario that cannot run (no node, no `g360-mail` binary) is listed in
/// [`Report::failures`]; the others still run.
///
/// # Errors
///
/// When the runtimes cannot be started.
pub fn run(options: &Options) -> Result<Report, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let runtime = |name: &str| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cores)
            .thread_name(name)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start a runtime: {e}"))
    };
    let servers = runtime(SERVER_THREAD)?;
    let clients = runtime(CLIENT_THREAD)?;
    let started = Instant::now();
    let machine = Machine::now(cores);
    let opts = options.clone();
    let handle = servers.handle().clone();
    let mut report = clients
        .block_on(async move { tokio::spawn(scenarios(opts, handle)).await })
        .map_err(|e| format!("the bench panicked: {e}"))?;
    report.machine = machine;
    report.seconds = util::round(started.elapsed().as_secs_f64(), 1);
    report.evaluate();
    clients.shutdown_timeout(std::time::Duration::from_secs(2));
    servers.shutdown_timeout(std::time::Duration::from_secs(2));
    Ok(report)
}

async fn scenarios(opts: Options, servers: tokio::runtime::Handle) -> Report {
    let mut report = Report::new(&opts);
    let fail = report_failure;
    if opts.wants("graph-send") {
        match graph_send::run(&opts, &servers).await {
            Ok(r) => report.graph_send = Some(r),
            Err(e) => report.failures.push(fail("graph-send", e)),
        }
    }
    if opts.wants("graph-read") {
        match graph_read::run(&opts, &servers).await {
            Ok(r) => report.graph_read = Some(r),
            Err(e) => report.failures.push(fail("graph-read", e)),
        }
    }
    if opts.wants("smtp") {
        // The test server's helpers panic (fail, never skip) when node or
        // openssl is missing: the bench reports that and goes on.
        let o = opts.clone();
        let s = servers.clone();
        match tokio::spawn(async move { smtp::run(&o, &s).await }).await {
            Ok(Ok(r)) => report.smtp = Some(r),
            Ok(Err(e)) => report.failures.push(fail("smtp", e)),
            Err(e) => report.failures.push(fail("smtp", panic_text(e))),
        }
    }
    if opts.wants("outbox") {
        let o = opts.clone();
        let s = servers.clone();
        match tokio::spawn(async move { outbox::run(&o, &s).await }).await {
            Ok(r) => report.outbox = r,
            Err(e) => {
                let e = panic_text(e);
                report.outbox = OutboxReport::not_measured_because(format!("panicked: {e}"));
                report.failures.push(fail("outbox", e));
            }
        }
    } else {
        report.outbox = OutboxReport::not_measured();
    }
    if opts.wants("memory") {
        match &opts.cli {
            Some(cli) => match memory::run(&opts, &servers, cli).await {
                Ok(r) => report.memory = Some(r),
                Err(e) => report.failures.push(fail("memory", e)),
            },
            None => report.failures.push(fail(
                "memory",
                "no g360-mail binary given (--cli target/release/g360-mail)".into(),
            )),
        }
    }
    report
}

fn report_failure(name: &str, e: String) -> String {
    format!("{name}: {e}")
}

fn panic_text(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(p) => p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "panicked".into()),
        Err(e) => e.to_string(),
    }
}
