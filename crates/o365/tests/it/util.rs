//! Shared setup: an emulator with one tenant, app and mailboxes, and
//! providers pointed at it with millisecond delays.

use std::sync::Arc;
use std::time::Duration;

use g360_mail_core::{EmailAddress, MailProvider, OutgoingMessage, Secret};
use g360_mail_o365::{O365Factory, O365Provider, O365Settings};
use g360_mail_testkit::graph::{GraphEmulator, QuickSetup};

pub(crate) const ERP: &str = "erp@contoso.example";
pub(crate) const AP: &str = "ap@contoso.example";

pub(crate) struct Env {
    pub(crate) emu: GraphEmulator,
    pub(crate) setup: QuickSetup,
    pub(crate) factory: O365Factory,
}

/// Everything the provider and its HTTP stack log during the whole test
/// run (the emulator's own logs excluded), for `secrets.rs`.
pub(crate) static LOG: std::sync::OnceLock<Arc<std::sync::Mutex<Vec<u8>>>> =
    std::sync::OnceLock::new();

#[derive(Clone)]
struct LogWriter(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the global subscriber once; every test calls it through `env()`.
pub(crate) fn capture_logs() -> Arc<std::sync::Mutex<Vec<u8>>> {
    LOG.get_or_init(|| {
        let buf = Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = LogWriter(buf.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "g360_mail_o365=trace,reqwest=trace,hyper_util=trace,hyper=debug,h2=debug",
            ))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        buf
    })
    .clone()
}

pub(crate) async fn env() -> Env {
    capture_logs();
    let emu = GraphEmulator::start().await;
    let setup = emu.quick_setup(&[ERP, AP]);
    Env { emu, setup, factory: O365Factory::default() }
}

/// The testkit's settings for the emulator, with delays of milliseconds;
/// retries here may wait a little longer.
pub(crate) fn settings(env: &Env) -> O365Settings {
    let json = g360_mail_testkit::routes::o365_settings(&env.emu, &env.setup);
    let mut s: O365Settings = serde_json::from_value(json).unwrap();
    s.max_backoff_ms = 40;
    s.max_total_delay_ms = 5_000;
    s
}

impl Env {
    pub(crate) fn provider(&self) -> O365Provider {
        self.provider_with(settings(self), ERP, &self.setup.secret)
    }

    pub(crate) fn provider_with(
        &self,
        s: O365Settings,
        mailbox: &str,
        secret: &str,
    ) -> O365Provider {
        self.factory
            .builder(s)
            .with_mailbox(EmailAddress::new(mailbox).unwrap())
            .with_client_secret(Secret::new(secret))
            .build()
            .unwrap()
    }

    pub(crate) fn shared(&self) -> Arc<dyn MailProvider> {
        Arc::new(self.provider())
    }

    pub(crate) fn send_requests(&self) -> usize {
        self.emu.requests_to(g360_mail_testkit::graph::Endpoint::SendMail).len()
    }
}

pub(crate) fn simple(subject: &str) -> OutgoingMessage {
    OutgoingMessage::builder().to(AP).unwrap().subject(subject).text("hola").build().unwrap()
}

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
