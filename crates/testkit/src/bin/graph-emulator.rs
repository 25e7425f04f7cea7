//! Runs the Microsoft identity + Graph mail emulator standalone on 127.0.0.1.
//!
//! ```text
//! cargo run -p g360-mail-testkit --bin graph-emulator -- \
//!     [--port N] [--tenant GUID] [--client-id GUID] [--secret VALUE] [--mailbox ADDR]...
//! ```
//!
//! Prints a ready-to-save g360-mail TOML configuration alone on standard
//! output (the URL and hints go to standard error), then serves until Ctrl-C.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool reports on the terminal"
)]

use std::net::SocketAddr;
use std::process::ExitCode;

use g360_mail_testkit::graph::{
    App, ClientSecret, GraphEmulator, MAIL_READ, MAIL_SEND, Mailbox, QuickSetup, Tenant,
};

const USAGE: &str = "usage: graph-emulator [--port N] [--tenant GUID] [--client-id GUID] [--secret VALUE] [--mailbox ADDR]...

Starts an emulator of the Microsoft token endpoint, OpenID discovery and Graph
mail on 127.0.0.1 with one tenant, one app (Mail.Send + Mail.Read consented),
one client secret and the given mailboxes (default: erp@contoso.example), then
prints a g360-mail configuration that points at it.";

#[derive(Debug, Default)]
struct Args {
    port: u16,
    tenant: Option<String>,
    client_id: Option<String>,
    secret: Option<String>,
    mailboxes: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--port" => {
                let v = value("--port")?;
                args.port = v.parse().map_err(|_| format!("invalid port {v:?}"))?;
            }
            "--tenant" => args.tenant = Some(value("--tenant")?),
            "--client-id" => args.client_id = Some(value("--client-id")?),
            "--secret" => args.secret = Some(value("--secret")?),
            "--mailbox" => args.mailboxes.push(value("--mailbox")?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.mailboxes.is_empty() {
        args.mailboxes.push("erp@contoso.example".into());
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("graph-emulator: {e}");
            }
            eprintln!("{USAGE}");
            return if e.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) };
        }
    };
    let emulator =
        match GraphEmulator::start_on(SocketAddr::from(([127, 0, 0, 1], args.port))).await {
            Ok(e) => e,
            Err(e) => {
                eprintln!("graph-emulator: cannot listen on 127.0.0.1:{}: {e}", args.port);
                return ExitCode::FAILURE;
            }
        };

    let mut tenant = match &args.tenant {
        Some(id) => Tenant::new(id.clone()),
        None => Tenant::random(),
    }
    .with_domain("contoso.onmicrosoft.com");
    for m in &args.mailboxes {
        if let Some((_, domain)) = m.rsplit_once('@') {
            let domain = domain.to_ascii_lowercase();
            if !tenant.domains.contains(&domain) {
                tenant = tenant.with_domain(domain);
            }
        }
    }
    // The emulator's own test secret: it protects nothing but this local
    // emulator, so printing it below is fine (never do this with a real one).
    let secret = ClientSecret::new(
        args.secret.clone().unwrap_or_else(|| "emu~Test.Secret_0123456789-abcdefghijklm".into()),
    );
    let app = match &args.client_id {
        Some(id) => App::new(id.clone()),
        None => App::random(),
    }
    .with_secret(secret.clone())
    .with_roles([MAIL_SEND, MAIL_READ]);
    let tenant_id = tenant.id.clone();
    let client_id = app.client_id.clone();
    let tenant_copy = tenant.clone();
    emulator.add_tenant(tenant);
    emulator.add_app(&tenant_id, app);
    let mut addresses = Vec::new();
    for m in &args.mailboxes {
        emulator.add_mailbox(&tenant_id, Mailbox::new(m.clone()));
        addresses.push(m.to_ascii_lowercase());
    }
    let setup = QuickSetup::new(&tenant_copy, client_id, &secret, addresses);

    // Standard output carries the configuration alone, so that
    // `graph-emulator > g360-mail.toml` saves a file that parses; the banner
    // and the hints go to standard error.
    eprintln!("Graph emulator listening on {}", emulator.url());
    eprintln!("  token:     {}/{}/oauth2/v2.0/token", emulator.url(), setup.tenant_id);
    eprintln!(
        "  discovery: {}/{}/v2.0/.well-known/openid-configuration",
        emulator.url(),
        setup.tenant_id
    );
    eprintln!("  graph:     {}/v1.0/users/{{address}}/...", emulator.url());
    eprintln!();
    println!("# g360-mail configuration (the secret is the emulator's test secret)");
    print!("{}", setup.toml_config(&emulator.url()));
    if let Err(e) = std::io::Write::flush(&mut std::io::stdout()) {
        eprintln!("graph-emulator: cannot write the configuration: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!("configuration written to standard output; press Ctrl-C to stop.");

    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("graph-emulator: cannot wait for Ctrl-C: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!("stopping; {} requests served", emulator.requests().len());
    ExitCode::SUCCESS
}
