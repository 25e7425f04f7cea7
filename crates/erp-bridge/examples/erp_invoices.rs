//! The ERP embeds g360-mail: invoices mailed as the user who issued them.
//!
//! What G360 ERP does, in one file:
//!
//! 1. reads its own rows, the *Integraciones* form (one Office 365 app and a
//!    fallback SMTP relay) and a *Cuenta de correo* per user, with secrets
//!    from its own secret store, and builds the configuration from them with
//!    [`BridgeConfig::builder`];
//! 2. sends one invoice now with [`MailBridge::send_as`] and queues another
//!    with [`MailBridge::enqueue_as`] in the durable outbox;
//! 3. runs the outbox worker inside the ERP ([`Worker::spawn`]), marks the
//!    invoice sent when its [`DeliveryEvent::Sent`] arrives, and stops the
//!    worker gracefully ([`WorkerHandle::shutdown`]);
//! 4. tells the user, in Spanish, from the text catalogue
//!    ([`g360_mail_texts`]): "El e-mail se envió correctamente".
//!
//! Office 365 is the testkit's Graph emulator, started in-process, so the
//! example runs anywhere: `cargo run -p g360-erp-bridge --example erp_invoices`.
//! `crates/erp-bridge/tests/it/example.rs` runs the same code in CI.

#![allow(clippy::print_stdout, reason = "an example prints what the ERP would show")]

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use g360_erp_bridge::{
    AccountRow, BridgeConfig, IntegrationRow, Lang, MailBridge, OutboxConfig, default_registry,
};
use g360_mail_core::{OutgoingMessage, Secret};
use g360_mail_outbox::{DeliveryEvent, Outbox, OutboxId, RunSummary, Worker, WorkerOptions};
use g360_mail_testkit::graph::GraphEmulator;
use g360_mail_texts::{Msg, error_text};

/// A row of the ERP's *Integraciones* form.
struct Integracion {
    id: &'static str,
    descripcion: &'static str,
    tipo: &'static str,
    /// Id. de aplicación (cliente), for Office 365.
    id_aplicacion: String,
    /// Id. de directorio (inquilino), for Office 365.
    id_inquilino: String,
    /// The SMTP relay's host, for SMTP.
    servidor: &'static str,
}

/// A row of the ERP's *Cuenta de correo* form.
struct CuentaDeCorreo {
    usuario: &'static str,
    proveedor: &'static str,
    integracion: &'static str,
    direccion: &'static str,
    /// The key of the secret in the ERP's secret store.
    token: &'static str,
}

/// The ERP's secret store: the value behind each key.
struct SecretStore(Vec<(&'static str, String)>);

impl SecretStore {
    fn get(&self, key: &str) -> Secret {
        Secret::new(
            self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()).unwrap_or_default(),
        )
    }
}

/// What happened, for the test that runs this example.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The Internet Message-ID of the invoice sent at once.
    pub(crate) sent_now: String,
    /// The outbox id of the queued invoice.
    pub(crate) queued: OutboxId,
    /// The delivery events of the queued invoice, in order.
    pub(crate) events: Vec<DeliveryEvent>,
    /// What the worker did before it stopped.
    pub(crate) summary: RunSummary,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = GraphEmulator::start().await;
    let dir = tempfile::tempdir()?;
    let outcome = run(&emulator, dir.path(), &mut std::io::stdout()).await?;
    println!("  Message-ID: {}", outcome.sent_now);
    println!(
        "  outbox id {}: {} events, the worker sent {}",
        outcome.queued.get(),
        outcome.events.len(),
        outcome.summary.sent
    );
    Ok(())
}

/// The ERP's work against the Office 365 of `emulator`, its outbox database
/// in `dir`, telling the user on `out`.
pub(crate) async fn run(
    emulator: &GraphEmulator,
    dir: &std::path::Path,
    out: &mut dyn Write,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    // The tenant, app and mailboxes an administrator set up in Entra ID.
    let tenant = emulator.quick_setup(&["jgarcia@contoso.com", "mlopez@contoso.com"]);

    // 1. The ERP's rows and its secret store.
    let integraciones = [
        Integracion {
            id: "o365",
            descripcion: "Correo corporativo (Office 365)",
            tipo: "office365",
            id_aplicacion: tenant.client_id.clone(),
            id_inquilino: tenant.tenant_id.clone(),
            servidor: "",
        },
        Integracion {
            id: "relay",
            descripcion: "Servidor SMTP de respaldo",
            tipo: "smtp",
            id_aplicacion: String::new(),
            id_inquilino: String::new(),
            servidor: "smtp.contoso.com",
        },
    ];
    let cuentas = [
        CuentaDeCorreo {
            usuario: "jgarcia",
            proveedor: "office365",
            integracion: "o365",
            direccion: "Juan García <jgarcia@contoso.com>",
            token: "o365-app",
        },
        CuentaDeCorreo {
            usuario: "mlopez",
            proveedor: "office365",
            integracion: "o365",
            direccion: "María López <mlopez@contoso.com>",
            token: "o365-app",
        },
    ];
    let secrets = SecretStore(vec![
        ("o365-app", tenant.secret.clone()),
        ("relay-password", "relay-password-from-the-store".to_owned()),
    ]);

    let mut builder = BridgeConfig::builder().lang(Lang::Es).outbox(OutboxConfig::new(format!(
        "sqlite://{}?mode=rwc",
        dir.join("erp-outbox.db").display()
    )));
    for row in &integraciones {
        let integration = IntegrationRow::new(row.id, row.tipo).with_description(row.descripcion);
        builder = builder.integration(match row.tipo {
            "office365" => integration
                .with_setting("client_id", row.id_aplicacion.as_str())
                .with_setting("tenant_id", row.id_inquilino.as_str())
                // The emulator stands in for login.microsoftonline.com and
                // graph.microsoft.com; a real ERP leaves these out.
                .with_setting("authority_url", emulator.url())
                .with_setting("graph_url", emulator.url())
                .with_setting("allow_insecure_http", true),
            _ => integration
                .with_setting("host", row.servidor)
                .with_setting("username", "erp-relay@contoso.com"),
        });
    }
    for row in &cuentas {
        builder = builder.account(
            AccountRow::new(row.usuario, row.proveedor, row.direccion)
                .with_integration(row.integracion)
                .with_secret(secrets.get(row.token))
                // Office 365 down or refusing the app: the relay sends instead.
                .with_fallback("relay")
                .with_fallback_secret(secrets.get("relay-password")),
        );
    }
    let config = builder.build(&default_registry())?;
    let lang = config.lang();
    let bridge = Arc::new(MailBridge::new(config, default_registry()));

    // 2a. An invoice sent at once, as the user who issued it.
    let invoice = |number: &str, to: &str| {
        OutgoingMessage::builder()
            .to(to)
            .map(|b| {
                b.subject(format!("Factura {number}"))
                    .text(format!("Adjuntamos la factura {number}.\r\n\r\nUn saludo."))
            })
            .and_then(|b| b.build())
    };
    let receipt = bridge.send_as("jgarcia", invoice("F-2026-0041", "cliente@example.com")?).await?;
    writeln!(out, "F-2026-0041: {}", Msg::SendOk.text(lang))?;

    // 2b. An invoice queued in the outbox; the worker sends it.
    let outbox_config = bridge.config().outbox().clone();
    let outbox = Outbox::open(&outbox_config.url, outbox_config.options()).await?;
    bridge.share_limits_with(&outbox);
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    outbox.on_event(move |event| {
        let _ = events_tx.send(event.clone());
    });
    let queued = bridge
        .enqueue_as(&outbox, "mlopez", invoice("F-2026-0042", "cliente@example.com")?)
        .await?;

    // 3. The worker inside the ERP, followed through its events.
    let worker = Worker::new(outbox.clone(), bridge.clone(), WorkerOptions::default()).spawn();
    let mut seen = Vec::new();
    let wait = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(event) = events.recv().await {
            if event.id() != Some(queued) {
                continue;
            }
            seen.push(event.clone());
            match event {
                // 4. The invoice is marked sent; the user reads it in Spanish.
                DeliveryEvent::Sent { .. } => {
                    writeln!(out, "F-2026-0042: {}", Msg::SendOk.text(lang))?;
                    break;
                }
                DeliveryEvent::Failed { error, .. } => {
                    let text = error.code.as_deref().and_then(|c| error_text(c, lang));
                    let message = text.map_or(error.message.as_str(), |(m, _)| m);
                    writeln!(out, "F-2026-0042: {}: {message}", Msg::Error.text(lang))?;
                    break;
                }
                _ => {}
            }
        }
        Ok::<(), std::io::Error>(())
    })
    .await;
    // However the wait ended, the worker stops gracefully: sends in flight
    // get 10 s, nothing stays `sending`.
    let summary = worker.shutdown(Duration::from_secs(10)).await?;
    wait.map_err(|_| "the queued invoice was not delivered within 60 s")??;
    Ok(Outcome { sent_now: receipt.internet_message_id, queued, events: seen, summary })
}
