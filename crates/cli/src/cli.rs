//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use g360_mail_texts::{Lang, Msg, cli_help_es};

/// g360-mail: send, read and verify the mail accounts of G360 ERP.
#[derive(Debug, Parser)]
#[command(name = "g360-mail", version, about, long_about = None)]
pub(crate) struct Cli {
    /// Configuration file (default: $G360_MAIL_CONFIG, else ./g360-mail.toml, else the embedded default).
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) config: Option<PathBuf>,
    /// Language of messages: es or en (default: the configuration's `lang`, else es).
    #[arg(long, global = true, value_enum)]
    pub(crate) lang: Option<LangArg>,
    /// Print one JSON object instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum LangArg {
    Es,
    En,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Send a mail as an ERP user.
    Send(Box<SendArgs>),
    /// List messages of a folder, newest first.
    Inbox(InboxArgs),
    /// Show one message.
    Show(ShowArgs),
    /// Run the checks of an account (setup diagnosis).
    Verify(VerifyArgs),
    /// Check or show the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// List the registered provider types.
    Providers,
    /// The durable outbox: its worker, its state, retries and retention.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Delivery reports (bounces, NDRs): which recipient of which mail failed, and why.
    #[command(subcommand)]
    Bounces(BouncesCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum BouncesCommand {
    /// Read delivery reports (.eml files): per file the original Message-ID,
    /// per recipient the address, action, status, kind and diagnostic.
    Parse {
        /// The report files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Read the new delivery reports of a mailbox and record, per mail and
    /// recipient, bounced, delayed or delivered (each report once).
    Sync {
        /// The user whose mailbox is read (default: the only account).
        #[arg(long, conflicts_with = "all")]
        user: Option<String>,
        /// Every account whose route can read reports.
        #[arg(long)]
        all: bool,
    },
    /// List the delivery reports recorded recently: the original subject and
    /// each recipient's result.
    List {
        /// How far back, e.g. 7d, 12h or 30m.
        #[arg(long, default_value = "7d", value_name = "AGE")]
        since: String,
        /// How many reports at most.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum OutboxCommand {
    /// Run the worker: send queued mail through each user's route.
    Run {
        /// Exit once no mail is queued or being sent (failed mails do not keep it running).
        #[arg(long)]
        until_empty: bool,
        /// On SIGTERM or Ctrl-C, how long sends in flight may still take, e.g. 30s or 2m
        /// (default: `[outbox] shutdown_grace_ms`, 30 s).
        #[arg(long, value_name = "AGE")]
        grace: Option<String>,
        /// Serve Prometheus metrics at http://ADDR/metrics while running, e.g. 127.0.0.1:9464.
        #[arg(long, value_name = "ADDR")]
        metrics_addr: Option<std::net::SocketAddr>,
    },
    /// Count the mails in each state, and show each sending mailbox's queue and limits.
    Status {
        /// Print Prometheus text-format metrics instead.
        #[arg(long)]
        metrics: bool,
    },
    /// List mails, newest first.
    List {
        /// Only mails in this state.
        /// (`bounced` and `delayed`: a recipient has that delivery state,
        /// from a delivery report.)
        #[arg(long, value_parser = ["queued", "sending", "sent", "failed", "bounced", "delayed"])]
        state: Option<String>,
        /// How many mails at most.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show one mail with its attempts.
    Show {
        /// The outbox id.
        id: i64,
    },
    /// Queue a failed mail again.
    Retry {
        /// The outbox id.
        id: i64,
    },
    /// Delete sent mails older than an age such as 30d, 12h or 90m.
    Purge {
        /// The age: a number followed by d, h, m or s.
        #[arg(long, value_name = "AGE")]
        sent_older_than: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct UserArg {
    /// ERP user whose account is used (may be omitted when only one account exists).
    #[arg(long, short = 'u')]
    pub(crate) user: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    #[command(flatten)]
    pub(crate) user: UserArg,
    /// Send one mail per row of a CSV file (columns: to, cc, bcc, subject, body, html_file, attach;
    /// separated by `,` or `;`; files relative to the CSV's folder).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["to", "cc", "bcc", "reply_to", "subject", "body", "body_file", "html_file", "attach", "header"])]
    pub(crate) from_csv: Option<PathBuf>,
    /// The folder the files named in the CSV (html_file, attach) must lie in
    /// (default: the CSV's own folder). Absolute paths, `..` and links that
    /// lead outside it are refused.
    #[arg(long, value_name = "DIR", requires = "from_csv")]
    pub(crate) attach_root: Option<PathBuf>,
    /// The CSV's field separator: `,`, `;` (Spanish Excel) or `tab`
    /// (default: detected from the header line).
    #[arg(long, value_name = "CHAR", requires = "from_csv", value_parser = parse_delimiter)]
    pub(crate) delimiter: Option<u8>,
    /// How many mails of a CSV run are sent at once (the provider still keeps
    /// at most 4 requests in flight per mailbox).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub(crate) concurrency: u16,
    /// Recipients, separated by commas (repeatable).
    #[arg(long, required_unless_present = "from_csv", value_name = "ADDR[,ADDR]")]
    pub(crate) to: Vec<String>,
    /// Copy recipients.
    #[arg(long, value_name = "ADDR[,ADDR]")]
    pub(crate) cc: Vec<String>,
    /// Blind copy recipients.
    #[arg(long, value_name = "ADDR[,ADDR]")]
    pub(crate) bcc: Vec<String>,
    /// Reply-To addresses.
    #[arg(long, value_name = "ADDR[,ADDR]")]
    pub(crate) reply_to: Vec<String>,
    /// Subject.
    #[arg(long, short = 's', required_unless_present = "from_csv")]
    pub(crate) subject: Option<String>,
    /// Plain-text body.
    #[arg(long, conflicts_with = "body_file", required_unless_present_any = ["from_csv", "body_file", "html_file"])]
    pub(crate) body: Option<String>,
    /// Plain-text body read from a file (UTF-8).
    #[arg(long, value_name = "FILE")]
    pub(crate) body_file: Option<PathBuf>,
    /// HTML body read from a file (UTF-8); may go with --body as the text alternative.
    #[arg(long, value_name = "FILE")]
    pub(crate) html_file: Option<PathBuf>,
    /// Attach a file (repeatable).
    #[arg(long, value_name = "FILE")]
    pub(crate) attach: Vec<PathBuf>,
    /// Custom header "X-Name: value" (repeatable).
    #[arg(long, value_name = "X-NAME: VALUE")]
    pub(crate) header: Vec<String>,
    /// Importance.
    #[arg(long, value_enum, default_value = "normal")]
    pub(crate) importance: ImportanceArg,
    /// Queue the mail(s) in the durable outbox instead of sending now; prints the outbox ids.
    #[arg(long)]
    pub(crate) queue: bool,
}

fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "," | "comma" => Ok(b','),
        ";" | "semicolon" => Ok(b';'),
        "\t" | "tab" | "\\t" => Ok(b'\t'),
        "|" => Ok(b'|'),
        other => Err(format!("{other:?} is not a separator: use ',', ';', 'tab' or '|'")),
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ImportanceArg {
    Low,
    Normal,
    High,
}

#[derive(Debug, Args)]
pub(crate) struct InboxArgs {
    #[command(flatten)]
    pub(crate) user: UserArg,
    /// Folder: inbox, sentitems, drafts, deleteditems, junkemail, archive or a folder id.
    #[arg(long, default_value = "inbox")]
    pub(crate) folder: String,
    /// Only unread messages.
    #[arg(long)]
    pub(crate) unread: bool,
    /// How many messages (1 to 1000).
    #[arg(long, default_value_t = 25)]
    pub(crate) top: u32,
    /// Continue after a previous page (the token printed at its end).
    #[arg(long, value_name = "TOKEN", conflicts_with = "all")]
    pub(crate) next: Option<String>,
    /// Read every page (with --top messages each), showing progress on a terminal.
    #[arg(long)]
    pub(crate) all: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    #[command(flatten)]
    pub(crate) user: UserArg,
    /// The message id printed by `inbox`.
    pub(crate) id: String,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// ERP user whose account is checked.
    #[arg(long, short = 'u', conflicts_with = "all")]
    pub(crate) user: Option<String>,
    /// Check every account.
    #[arg(long)]
    pub(crate) all: bool,
    /// End with a test mail to this address.
    #[arg(long, value_name = "ADDR")]
    pub(crate) send_test_to: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Validate the configuration and list every problem.
    Check,
    /// Print the effective configuration, secrets redacted.
    Show,
}

/// The command line in `lang`: its help texts, headings and the exit codes
/// after the help. clap takes texts at run time, so English (the doc
/// comments above) is replaced text by text from the catalogue
/// ([`g360_mail_texts::CLI_HELP_ES`]).
pub(crate) fn command(lang: Lang) -> clap::Command {
    let mut cmd = Cli::command().after_help(Msg::ExitCodesHelp.text(lang));
    if lang == Lang::En {
        return cmd;
    }
    // Built first, so the generated `help` command and the `--help` and
    // `--version` flags exist and the global flags reach every subcommand.
    cmd.build();
    localise(cmd, "", lang)
}

/// The key of a command's about: clap's generated `help` commands
/// (`outbox help`, `help send`) share the texts of `help` and of the command
/// they show.
fn about_key(path: &str) -> String {
    if path.split(' ').next_back() == Some("help") {
        return "cmd:help".to_owned();
    }
    let words: Vec<&str> = path.split(' ').filter(|w| *w != "help").collect();
    format!("cmd:{}", words.join(" "))
}

fn localise(cmd: clap::Command, path: &str, lang: Lang) -> clap::Command {
    let t = |m: Msg| m.text(lang);
    let mut cmd = cmd
        .help_template(format!(
            "{{before-help}}{{about-with-newline}}\n{}: {{usage}}\n\n{{all-args}}{{after-help}}",
            t(Msg::HelpUsage)
        ))
        .subcommand_help_heading(t(Msg::HelpCommands))
        .subcommand_value_name(t(Msg::HelpCommand));
    if let Some(about) = cli_help_es(&about_key(path)) {
        // As clap writes doc comments: no final full stop.
        cmd = cmd.about(about.trim_end_matches('.')).long_about(None);
    }
    cmd = cmd.mut_args(|arg| {
        let id = arg.get_id().as_str().to_owned();
        let mut help = cli_help_es(&format!("{path}.{id}"))
            .or_else(|| cli_help_es(&format!(".{id}")))
            .map(|text| text.trim_end_matches('.').to_owned())
            .or_else(|| arg.get_help().map(ToString::to_string))
            .unwrap_or_default();
        let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
        let defaults: Vec<String> =
            arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
        if takes_value && !defaults.is_empty() {
            help.push_str(&format!(" [{}: {}]", t(Msg::HelpDefault), defaults.join(", ")));
        }
        let possible: Vec<String> = if takes_value {
            arg.get_possible_values().iter().map(|v| v.get_name().to_owned()).collect()
        } else {
            Vec::new()
        };
        if !possible.is_empty() {
            help.push_str(&format!(" [{}: {}]", t(Msg::HelpPossibleValues), possible.join(", ")));
        }
        let heading = if arg.is_positional() { t(Msg::HelpArguments) } else { t(Msg::HelpOptions) };
        arg.help(help).hide_default_value(true).hide_possible_values(true).help_heading(heading)
    });
    // clap writes the `[OPTIONS]` of usage lines in English whatever the
    // template: each command's usage is rendered once, as clap makes it, and
    // given back with that placeholder translated (help and usage errors).
    let usage = cmd.render_usage().ansi().to_string();
    if let Some((_, rest)) = usage.split_once("Usage:") {
        let rest = rest.strip_prefix("\x1b[0m").unwrap_or(rest).trim_start();
        let placeholder = format!("[{}]", t(Msg::HelpOptionsPlaceholder));
        cmd = cmd.override_usage(rest.replace("[OPTIONS]", &placeholder));
    }
    let names: Vec<String> = cmd.get_subcommands().map(|c| c.get_name().to_owned()).collect();
    for name in names {
        let child = if path.is_empty() { name.clone() } else { format!("{path} {name}") };
        cmd = cmd.mut_subcommand(&name, |sub| localise(sub, &child, lang));
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command and argument `--help` shows has a Spanish text, and
    /// every Spanish text names a command or argument that exists.
    #[test]
    fn every_help_text_has_its_spanish_one_and_none_is_orphaned() {
        fn walk(cmd: &clap::Command, path: &str, keys: &mut Vec<String>) {
            keys.push(about_key(path));
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if arg.is_global_set() || ["help", "version"].contains(&id) {
                    keys.push(format!(".{id}"));
                } else {
                    keys.push(format!("{path}.{id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                let child = if path.is_empty() {
                    sub.get_name().to_owned()
                } else {
                    format!("{path} {}", sub.get_name())
                };
                walk(sub, &child, keys);
            }
        }
        let mut cmd = Cli::command();
        cmd.build();
        let mut keys = Vec::new();
        walk(&cmd, "", &mut keys);
        keys.sort();
        keys.dedup();
        let missing: Vec<&String> = keys.iter().filter(|k| cli_help_es(k).is_none()).collect();
        assert!(
            missing.is_empty(),
            "no Spanish help text (crates/texts/src/cli_help.rs): {missing:?}"
        );
        let orphans: Vec<&str> = g360_mail_texts::CLI_HELP_ES
            .iter()
            .map(|(k, _)| *k)
            .filter(|k| !keys.iter().any(|key| key == k))
            .collect();
        assert!(orphans.is_empty(), "Spanish help texts of nothing: {orphans:?}");
    }

    #[test]
    fn spanish_help_has_spanish_headings_and_texts() {
        let mut cmd = command(Lang::Es);
        let help = cmd.render_help().to_string();
        for text in [
            "Uso: g360-mail [OPCIONES]",
            "Comandos:",
            "Opciones:",
            "Envía un e-mail",
            "Códigos de salida",
        ] {
            assert!(help.contains(text), "{text} missing in\n{help}");
        }
        let send = cmd.find_subcommand_mut("send").unwrap().render_help().to_string();
        for text in [
            "Destinatarios, separados por comas",
            "[por defecto: 8]",
            "[valores posibles: low, normal, high]",
            "Muestra la ayuda",
        ] {
            assert!(send.contains(text), "{text} missing in\n{send}");
        }
        assert!(!send.contains("Options:") && !send.contains("[default"), "{send}");
        // clap's own placeholder too, in help and in usage errors.
        assert!(send.contains("Uso: g360-mail send [OPCIONES]"), "{send}");
        assert!(!send.contains("[OPTIONS]"), "{send}");
        let outbox = cmd.find_subcommand_mut("outbox").unwrap().render_help().to_string();
        assert!(outbox.contains("[OPCIONES]") && !outbox.contains("[OPTIONS]"), "{outbox}");
        let err = command(Lang::Es).try_get_matches_from(["g360-mail", "send", "--bogus"]);
        let usage = err.unwrap_err().get(clap::error::ContextKind::Usage).unwrap().to_string();
        assert!(usage.contains("[OPCIONES]") && !usage.contains("[OPTIONS]"), "{usage}");
        let en = command(Lang::En).render_help().to_string();
        assert!(en.contains("Usage: g360-mail [OPTIONS]"), "{en}");
    }
}
