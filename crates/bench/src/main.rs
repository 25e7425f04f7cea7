//! `g360-mail-bench`: runs the benchmark, prints the table, writes the JSON
//! report and, with `--write-doc`, the figures of `docs/performance.md`.
//! Usually started by `cargo xtask bench`.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a command line prints")]

use std::path::PathBuf;
use std::process::ExitCode;

use g360_mail_bench::{Options, SCENARIOS, fill_doc, run};

const USAGE: &str = "usage: g360-mail-bench [options]

  --quick              small sizes (development, tests)
  --cli PATH           the release g360-mail binary (memory scenario)
  --out PATH           JSON report (default target/bench/report.json)
  --doc PATH           document to fill with --write-doc (default docs/performance.md)
  --write-doc          replace the figures between the bench markers of --doc
  --only LIST          comma-separated: graph-send, graph-read, smtp, outbox, memory
  --mails N            Graph send: text mails per side and concurrency (2000)
  --large-mails N      Graph send: 1 MiB mails per side and concurrency (200)
  --read N             Graph read: messages in the Inbox, listed without bodies (10000)
  --read-bodies N      Graph read: messages read with bodies (2000)
  --page-size N        Graph read: $top (100)
  --smtp-mails N       SMTP: mails per side (300)
  --outbox-mails N     outbox: mails per enqueue pass; the drain drains twice as many (2000)
  --bulk-rows N        memory: rows of the bulk CSV run (2000)";

struct Args {
    options: Options,
    out: PathBuf,
    doc: PathBuf,
    write_doc: bool,
}

fn parse() -> Result<Args, String> {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let quick = raw.iter().any(|a| a == "--quick");
    let mut options = if quick { Options::quick() } else { Options::full() };
    let mut out = PathBuf::from("target/bench/report.json");
    let mut doc = PathBuf::from("docs/performance.md");
    let mut write_doc = false;
    let mut it = raw.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| format!("{arg} needs a value"));
        let number =
            |v: String| v.parse::<usize>().map_err(|_| format!("{arg}: not a number: {v}"));
        match arg.as_str() {
            "--quick" => {}
            "--write-doc" => write_doc = true,
            "--cli" => options.cli = Some(PathBuf::from(value()?)),
            "--out" => out = PathBuf::from(value()?),
            "--doc" => doc = PathBuf::from(value()?),
            "--only" => {
                options.only = value()?.split(',').map(|s| s.trim().to_owned()).collect();
                if let Some(bad) = options.only.iter().find(|s| !SCENARIOS.contains(&s.as_str())) {
                    return Err(format!("unknown scenario {bad:?}"));
                }
            }
            "--mails" => options.mails = number(value()?)?,
            "--large-mails" => options.large_mails = number(value()?)?,
            "--read" => options.read_messages = number(value()?)?,
            "--read-bodies" => options.read_with_bodies = number(value()?)?,
            "--page-size" => {
                options.page_size = u32::try_from(number(value()?)?)
                    .ok()
                    .filter(|p| (1..=1000).contains(p))
                    .ok_or("--page-size must be 1 to 1000")?;
            }
            "--smtp-mails" => options.smtp_mails = number(value()?)?,
            "--outbox-mails" => options.outbox_mails = number(value()?)?.max(1),
            "--bulk-rows" => options.bulk_rows = number(value()?)?.max(1),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok(Args { options, out, doc, write_doc })
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("g360-mail-bench: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let report = match run(&args.options) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("g360-mail-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let table = report.table();
    println!("{table}");
    if let Some(dir) = args.out.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = std::fs::write(&args.out, report.to_json()) {
        eprintln!("g360-mail-bench: cannot write {}: {e}", args.out.display());
        return ExitCode::FAILURE;
    }
    println!("report: {}", args.out.display());
    if args.write_doc {
        let filled = std::fs::read_to_string(&args.doc)
            .map_err(|e| format!("cannot read {}: {e}", args.doc.display()))
            .and_then(|doc| fill_doc(&doc, &table))
            .and_then(|doc| {
                std::fs::write(&args.doc, doc)
                    .map_err(|e| format!("cannot write {}: {e}", args.doc.display()))
            });
        match filled {
            Ok(()) => println!("figures written into {}", args.doc.display()),
            Err(e) => {
                eprintln!("g360-mail-bench: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if !report.failures().is_empty() {
        for f in report.failures() {
            eprintln!("g360-mail-bench: not run: {f}");
        }
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
