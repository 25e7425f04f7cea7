//! Scenario 3: the SMTP provider with a pooled connection against a new
//! connection per mail, on nodemailer's `smtp-server` (STARTTLS + AUTH PLAIN,
//! as `smtp.office365.com` asks for).

use std::sync::Arc;
use std::time::Duration;

use g360_mail_core::{EmailAddress, MailProvider, OutgoingMessage, Secret};
use g360_mail_smtp::{Security, SmtpAuth, SmtpBuilder, SmtpProvider};
use g360_mail_testkit::smtp::{Certs, SmtpTestServer};
use serde::Serialize;
use serde_json::json;
use tokio::runtime::Handle;

use crate::Options;
use crate::util::{Pass, PassStats, drive, ratio, split};

const SENDER: &str = "facturas@contoso.test";
const PASSWORD: &str = "bench-password";

/// What scenario 3 reports.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SmtpReport {
    /// The server and how the provider talks to it.
    pub(crate) server: String,
    /// Mails per side.
    pub(crate) mails: usize,
    /// One pooled connection (`pool_max_size = 1`), mails one after another.
    pub(crate) pooled: PassStats,
    /// A new connection (TCP, greeting, EHLO, STARTTLS, EHLO, AUTH) per mail
    /// (`pool_idle_timeout_ms = 0`), mails one after another.
    pub(crate) unpooled: PassStats,
    /// pooled.per_second / unpooled.per_second.
    pub(crate) ratio: f64,
}

/// Runs scenario 3.
pub(crate) async fn run(opts: &Options, servers: &Handle) -> Result<SmtpReport, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let certs = {
        let path = dir.path().to_owned();
        tokio::task::spawn_blocking(move || Certs::generate(&path))
            .await
            .map_err(|e| format!("cannot make test certificates: {e}"))?
    };
    let config = json!({
        "tls": certs.server_tls(),
        "auth": { "methods": ["PLAIN", "LOGIN"], "users": { SENDER: PASSWORD } },
    });
    let server = servers
        .spawn(SmtpTestServer::start(config))
        .await
        .map_err(|e| format!("cannot start smtp-server: {e}"))?;
    let build = |idle: Duration| -> Result<Arc<SmtpProvider>, String> {
        SmtpBuilder::new("127.0.0.1")
            .with_port(server.port())
            .with_security(Security::Starttls)
            .with_tls_ca_file(&certs.ca)
            .with_auth(SmtpAuth::Password)
            .with_sender(EmailAddress::new(SENDER).map_err(|e| e.to_string())?)
            .with_secret(Secret::new(PASSWORD))
            .with_hello_name("erp.contoso.test")
            .with_pool_max_size(1)
            .with_pool_idle_timeout(idle)
            .build()
            .map(Arc::new)
            .map_err(|e| e.to_string())
    };
    let pooled = build(Duration::from_secs(60))?;
    let unpooled = build(Duration::ZERO)?;

    let send = |p: &Arc<SmtpProvider>, n: usize, offset: usize| {
        let p = p.clone();
        let jobs = split(n, 1, |_, i| message(offset + i));
        async move {
            drive(jobs, 1, move |_, msg: Result<OutgoingMessage, String>| {
                let p = p.clone();
                async move { p.send(&msg?).await.map(|_| ()).map_err(|e| e.to_string()) }
            })
            .await
        }
    };
    send(&unpooled, 5, 0).await;
    send(&pooled, 5, 0).await;
    let half = opts.smtp_mails / 2;
    let mut pooled_pass = Pass::default();
    let mut unpooled_pass = Pass::default();
    for (i, is_pooled) in [false, true, true, false].into_iter().enumerate() {
        let size = if i < 2 { half } else { opts.smtp_mails - half };
        if is_pooled {
            pooled_pass.absorb(send(&pooled, size, i * half).await);
        } else {
            unpooled_pass.absorb(send(&unpooled, size, i * half).await);
        }
    }
    drop(server);
    let pooled = pooled_pass.stats(opts.smtp_mails);
    let unpooled = unpooled_pass.stats(opts.smtp_mails);
    Ok(SmtpReport {
        server: "nodemailer smtp-server (node, loopback), STARTTLS + AUTH PLAIN, certificate \
                 from a test CA"
            .into(),
        mails: opts.smtp_mails,
        ratio: ratio(pooled.per_second, unpooled.per_second),
        pooled,
        unpooled,
    })
}

fn message(i: usize) -> Result<OutgoingMessage, String> {
    OutgoingMessage::builder()
        .to_all([EmailAddress::new("cliente@fabrikam.test").map_err(|e| e.to_string())?])
        .subject(format!("Factura FV-2025-{i:06}"))
        .text("Le enviamos la factura de su pedido.\r\n\r\nAtentamente,\r\nAdministración")
        .build()
        .map_err(|e| e.to_string())
}
