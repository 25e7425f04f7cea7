//! Integration tests of g360-mail-smtp against nodemailer's `smtp-server`
//! and a scripted fake server for replies the real one cannot give, both from
//! [`g360_mail_testkit::smtp`] (which installs `smtp-server` from npm into
//! `target/test-tools/smtp-server` on first use).

mod fake_server;
mod real_server;

use std::time::Duration;

use g360_mail_core::{Attachment, OutgoingMessage, Secret};
use g360_mail_smtp::{Security, SmtpAuth, SmtpBuilder, SmtpProvider};

pub(crate) const SENDER: &str = "Facturación Ñandú <facturas@contoso.test>";
pub(crate) const LOGIN: &str = "facturas@contoso.test";
pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// A builder for a loopback server with short timeouts and retry delays.
pub(crate) fn builder(port: u16, security: Security) -> SmtpBuilder {
    builder_on("127.0.0.1", port, security)
}

/// [`builder`] for another host name.
pub(crate) fn builder_on(host: &str, port: u16, security: Security) -> SmtpBuilder {
    SmtpBuilder::new(host)
        .with_port(port)
        .with_security(security)
        .with_sender(SENDER.parse().unwrap())
        .with_secret(Secret::new(PASSWORD))
        .with_hello_name("erp.contoso.test")
        .with_connect_timeout(Duration::from_secs(5))
        .with_command_timeout(Duration::from_secs(5))
        .with_data_timeout(Duration::from_secs(5))
        .with_retry_delay(Duration::from_millis(20))
}

/// A plain-text loopback provider without login (for fake servers).
pub(crate) fn plain(port: u16) -> SmtpProvider {
    builder(port, Security::None).with_auth(SmtpAuth::None).build().unwrap()
}

pub(crate) fn simple_message() -> OutgoingMessage {
    OutgoingMessage::builder()
        .to("cliente@example.test")
        .unwrap()
        .subject("Factura 2026-0042")
        .text("Adjuntamos la factura.")
        .build()
        .unwrap()
}

pub(crate) const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n";
pub(crate) const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01";

pub(crate) fn full_message() -> OutgoingMessage {
    OutgoingMessage::builder()
        .to("José Müller <jose@example.test>")
        .unwrap()
        .cc("Ana Pérez <ana@example.test>")
        .unwrap()
        .bcc("Auditoría <auditoria@example.test>")
        .unwrap()
        .subject("Factura 2026-0042 — vencimiento")
        .text("Estimado cliente:\n\nAdjuntamos la factura nº 42.\n")
        .html("<p>Estimado cliente:</p><p>Adjuntamos la factura nº 42.</p><img src=\"cid:logo@g360\">")
        .attach(Attachment::new("Factura 42.pdf", "application/pdf", PDF.to_vec()).unwrap())
        .attach(
            Attachment::new("logo.png", "image/png", PNG.to_vec())
                .unwrap()
                .inline("logo@g360")
                .unwrap(),
        )
        .header("X-G360-Invoice", "2026-0042")
        .build()
        .unwrap()
}
