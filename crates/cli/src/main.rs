//! `g360-mail`: the command line of the G360 ERP mail layer.
//!
//! Exit codes (stable): 0 ok, 1 anything else, 2 usage or configuration
//! error, 3 authentication or permission (setup) error, 4 message rejected,
//! 5 temporarily unavailable (retry later), 6 outcome unknown (do not resend:
//! look the mail up).

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a command line prints")]

mod app;
mod bounces_cmd;
mod bulk;
mod cli;
mod outbox_cmd;
mod output;

use std::process::ExitCode;

use clap::Parser;
/// The texts live in their own crate, shared with the ERP.
use g360_mail_texts as i18n;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version (exit 0) and usage errors (exit 2);
            // with --json a usage error is one JSON object too.
            if e.use_stderr() && std::env::args_os().any(|a| a == "--json") {
                let message = e.kind().as_str().unwrap_or("invalid usage").to_owned();
                let detail = e.render().to_string();
                let detail: Vec<&str> =
                    detail.lines().take_while(|l| !l.trim().is_empty()).map(str::trim).collect();
                let detail = detail.join(" ");
                let detail = detail.trim_start_matches("error: ");
                let value = serde_json::json!({ "ok": false, "exit_code": output::exit::USAGE,
                    "error": { "kind": "usage", "code": "usage.invalid", "message": message,
                    "detail": detail, "exit_code": output::exit::USAGE, "outcome": "failed" } });
                println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
                return ExitCode::from(output::exit::USAGE);
            }
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                output::exit::USAGE
            } else {
                output::exit::OK
            });
        }
    };
    // A person running a command reads its result, translated: warnings
    // that repeat it in English would only be noise. The worker, a service,
    // logs its warnings.
    let default_filter = match cli.command {
        cli::Command::Outbox(cli::OutboxCommand::Run { .. }) => "warn",
        _ => "error",
    };
    init_logging(default_filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(output::exit::OTHER);
        }
    };
    ExitCode::from(runtime.block_on(app::run(cli)))
}

/// Logs go to stderr, filtered by `G360_MAIL_LOG` (e.g. `info`,
/// `g360_mail_o365=debug`), else by `default`.
fn init_logging(default: &str) {
    #[allow(clippy::disallowed_methods, reason = "the CLI reads its own environment")]
    let filter = std::env::var("G360_MAIL_LOG").unwrap_or_else(|_| default.into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}
