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
mod usage;

use std::process::ExitCode;

/// The texts live in their own crate, shared with the ERP.
use g360_mail_texts as i18n;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let lang = early_lang(&args);
    let parsed = cli::command(lang)
        .try_get_matches_from(&args)
        .and_then(|m| <cli::Cli as clap::FromArgMatches>::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            return ExitCode::from(usage::report(&e, lang, args.iter().any(|a| a == "--json")));
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

/// The language of the help and the usage errors, known before clap parses:
/// `--lang`, else the configuration's `lang` (read leniently: a file with
/// problems still says its language), else Spanish.
fn early_lang(args: &[std::ffi::OsString]) -> g360_erp_bridge::Lang {
    let value_of = |name: &str| {
        let mut it = args.iter().skip(1).map(|a| a.to_string_lossy());
        let prefix = format!("{name}=");
        while let Some(arg) = it.next() {
            if arg == "--" {
                break;
            }
            if arg == name {
                return it.next().map(|v| v.into_owned());
            }
            if let Some(v) = arg.strip_prefix(&prefix) {
                return Some(v.to_owned());
            }
        }
        None
    };
    if let Some(lang) = value_of("--lang").as_deref().and_then(g360_erp_bridge::Lang::parse) {
        return lang;
    }
    let source = g360_erp_bridge::ConfigSource::discover(value_of("--config").map(Into::into));
    g360_erp_bridge::BridgeConfig::lang_hint(&source).unwrap_or_default()
}
