//! Test databases (a SQLite file, a PostgreSQL schema) and a scripted sender.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use g360_mail_core::{Error, ErrorKind, MessageUid, OutgoingMessage, Result, SendReceipt};
use g360_mail_outbox::{Outbox, OutboxOptions, OutboxSender, WorkerOptions};
use sqlx::Connection;
use tokio::time::Instant;

/// Fast options for tests: short backoff, lease and settle delay, no pacing.
pub(crate) fn fast_options() -> OutboxOptions {
    OutboxOptions {
        messages_per_minute: 100_000,
        max_in_flight_per_mailbox: 1_000,
        max_attempts: 8,
        base_backoff: Duration::from_millis(40),
        max_backoff: Duration::from_millis(200),
        lease: Duration::from_secs(3),
        settle_delay: Duration::from_millis(250),
        rate_window: Duration::from_secs(60),
        max_connections: 4,
        acquire_timeout: Duration::from_secs(10),
        batch_size: 64,
        flush_interval: Duration::from_millis(5),
    }
}

pub(crate) fn worker_options(id: &str) -> WorkerOptions {
    WorkerOptions {
        concurrency: 16,
        poll_interval: Duration::from_millis(50),
        worker_id: id.to_owned(),
    }
}

pub(crate) fn message(to: &str) -> OutgoingMessage {
    OutgoingMessage::builder()
        .to(to)
        .unwrap()
        .subject("Factura 2026-0042")
        .text("Adjuntamos la factura.")
        .build()
        .unwrap()
}

/// Where a test's outbox lives.
pub(crate) struct TestDb {
    url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<PgSchema>,
}

impl TestDb {
    pub(crate) async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("outbox.db").display());
        TestDb { url, _dir: Some(dir), pg: None }
    }

    /// A fresh schema on the test server; `None` (with a notice) when the
    /// server is unreachable outside CI. In CI it must be there.
    #[allow(clippy::disallowed_methods, reason = "tests read their own variables")]
    pub(crate) async fn postgres() -> Option<TestDb> {
        let base = std::env::var("G360_MAIL_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let in_ci = std::env::var_os("CI").is_some();
        let conn =
            tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect(&base)).await;
        let mut conn = match conn {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) if in_ci => panic!("PostgreSQL at {base} is required in CI: {e}"),
            Err(_) if in_ci => panic!("PostgreSQL at {base} is required in CI: timed out"),
            _ => {
                eprintln!(
                    "NOTICE: skipping a PostgreSQL test: no server at {base} (set CI to fail instead)"
                );
                return None;
            }
        };
        let schema = format!("g360_outbox_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
        Some(TestDb { url, _dir: None, pg: Some(PgSchema { base, schema }) })
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    pub(crate) async fn open(&self, options: OutboxOptions) -> Outbox {
        Outbox::open(&self.url, options).await.unwrap()
    }
}

/// Drops the test's schema, also when the test panicked.
struct PgSchema {
    base: String,
    schema: String,
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let base = self.base.clone();
        let schema = self.schema.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&base).await {
                    let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

/// What the fake sender does on one send call.
pub(crate) enum Step {
    /// Accepts the mail.
    Ok,
    /// Refuses it with this error (not delivered).
    Fail(Error),
    /// Delivers it, then answers this error (a timeout after the hand-over).
    DeliverThenFail(Error),
    /// Delivers it and never answers (the worker dies meanwhile).
    DeliverThenHang,
}

#[derive(Default)]
pub(crate) struct FakeState {
    script: HashMap<MessageUid, VecDeque<Step>>,
    delivered: HashMap<MessageUid, Vec<Instant>>,
    calls: HashMap<MessageUid, Vec<Instant>>,
    lookups: HashMap<MessageUid, Vec<Instant>>,
    in_flight: HashMap<String, u32>,
    max_in_flight: u32,
    starts: Vec<Instant>,
}

/// A scripted [`OutboxSender`] that records every call.
pub(crate) struct FakeSender {
    pub(crate) can_look_up: bool,
    /// How long a delivered mail takes to show in the sent mail.
    pub(crate) lookup_lag: Duration,
    /// How long each send takes.
    pub(crate) send_delay: Duration,
    pub(crate) state: Mutex<FakeState>,
}

impl FakeSender {
    pub(crate) fn new() -> Self {
        FakeSender {
            can_look_up: true,
            lookup_lag: Duration::ZERO,
            send_delay: Duration::ZERO,
            state: Mutex::default(),
        }
    }

    pub(crate) fn smtp_like() -> Self {
        FakeSender { can_look_up: false, ..FakeSender::new() }
    }

    pub(crate) fn arc(self) -> Arc<FakeSender> {
        Arc::new(self)
    }

    pub(crate) fn script(&self, uid: MessageUid, steps: Vec<Step>) {
        self.state.lock().unwrap().script.insert(uid, steps.into());
    }

    /// How many times the mail was delivered.
    pub(crate) fn deliveries(&self, uid: MessageUid) -> usize {
        self.state.lock().unwrap().delivered.get(&uid).map_or(0, Vec::len)
    }

    /// Every delivered uid with its count.
    pub(crate) fn all_deliveries(&self) -> HashMap<MessageUid, usize> {
        let st = self.state.lock().unwrap();
        st.delivered.iter().map(|(k, v)| (*k, v.len())).collect()
    }

    /// When send was called for the mail.
    pub(crate) fn calls(&self, uid: MessageUid) -> Vec<Instant> {
        self.state.lock().unwrap().calls.get(&uid).cloned().unwrap_or_default()
    }

    /// When the mail was looked up.
    pub(crate) fn lookups(&self, uid: MessageUid) -> Vec<Instant> {
        self.state.lock().unwrap().lookups.get(&uid).cloned().unwrap_or_default()
    }

    /// The start time of every send call, in order.
    pub(crate) fn starts(&self) -> Vec<Instant> {
        let mut starts = self.state.lock().unwrap().starts.clone();
        starts.sort();
        starts
    }

    /// The most sends in flight at once for one mailbox.
    pub(crate) fn max_in_flight(&self) -> u32 {
        self.state.lock().unwrap().max_in_flight
    }

    fn receipt(uid: MessageUid) -> SendReceipt {
        let mut r = SendReceipt::new("fake", uid, uid.internet_message_id("contoso.com"));
        r.route = Some("o365-main".to_owned());
        r.request_id = Some(format!("req-{uid}"));
        r
    }
}

#[async_trait]
impl OutboxSender for FakeSender {
    async fn send(&self, user: &str, message: &OutgoingMessage) -> Result<SendReceipt> {
        let uid = message.uid();
        let mailbox = self.mailbox(user)?;
        let step = {
            let mut st = self.state.lock().unwrap();
            let now = Instant::now();
            st.calls.entry(uid).or_default().push(now);
            st.starts.push(now);
            let n = st.in_flight.entry(mailbox.clone()).or_default();
            *n += 1;
            let n = *n;
            st.max_in_flight = st.max_in_flight.max(n);
            st.script.get_mut(&uid).and_then(VecDeque::pop_front).unwrap_or(Step::Ok)
        };
        if !self.send_delay.is_zero() {
            tokio::time::sleep(self.send_delay).await;
        }
        let deliver =
            |st: &mut FakeState| st.delivered.entry(uid).or_default().push(Instant::now());
        let hang = {
            let mut st = self.state.lock().unwrap();
            *st.in_flight.get_mut(&mailbox).unwrap() -= 1;
            match step {
                Step::Ok => {
                    deliver(&mut st);
                    return Ok(Self::receipt(uid));
                }
                Step::Fail(e) => return Err(e),
                Step::DeliverThenFail(e) => {
                    deliver(&mut st);
                    return Err(e);
                }
                Step::DeliverThenHang => {
                    deliver(&mut st);
                    true
                }
            }
        };
        debug_assert!(hang);
        std::future::pending::<Result<SendReceipt>>().await
    }

    async fn find_sent(&self, _user: &str, uid: MessageUid) -> Result<Option<SendReceipt>> {
        if !self.can_look_up {
            return Err(Error::unsupported("smtp", "look up sent mail"));
        }
        let mut st = self.state.lock().unwrap();
        let now = Instant::now();
        st.lookups.entry(uid).or_default().push(now);
        let visible = st
            .delivered
            .get(&uid)
            .is_some_and(|d| d.iter().any(|t| now.duration_since(*t) >= self.lookup_lag));
        Ok(visible.then(|| {
            let mut r = Self::receipt(uid);
            r.recovered = true;
            r
        }))
    }

    fn mailbox(&self, user: &str) -> Result<String> {
        if user == "broken" {
            return Err(Error::new(ErrorKind::Config, "the user has no mail account")
                .with_remedy("add an account for the user"));
        }
        Ok(format!("{user}@contoso.com"))
    }

    fn can_look_up(&self, _user: &str) -> bool {
        self.can_look_up
    }
}

pub(crate) fn throttled(retry_after: Duration) -> Error {
    Error::new(ErrorKind::Throttled, "mailbox concurrency limit")
        .with_retry_after(retry_after)
        .with_context("request_id", "req-429")
}

pub(crate) fn unavailable() -> Error {
    Error::new(ErrorKind::Unavailable, "service unavailable").with_http_status(503)
}

pub(crate) fn unknown() -> Error {
    Error::new(ErrorKind::OutcomeUnknown, "the request timed out after the message was sent")
}

pub(crate) fn rejected() -> Error {
    Error::new(ErrorKind::Rejected, "recipient rejected")
        .with_code("550 5.1.1")
        .with_smtp_code(550)
        .with_remedy("check the address")
}
