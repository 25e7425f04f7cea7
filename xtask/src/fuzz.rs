//! `cargo xtask fuzz [--target NAME] [--minutes N] [--release]`: the property
//! tests of every parser of outside input, run with many more cases than in
//! `cargo test`, again and again with fresh seeds until the time is up.
//!
//! Each target is a set of `prop_*` tests in one test binary; their number of
//! cases is `G360_FUZZ_CASES` (CONTRIBUTING.md, "Fuzzing").

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A fuzz target: its name, the cargo arguments of its test binary and the
/// libtest filter that selects its properties.
struct Target {
    name: &'static str,
    what: &'static str,
    cargo: &'static [&'static str],
    filter: &'static str,
}

const TARGETS: &[Target] = &[
    Target {
        name: "address",
        what: "e-mail addresses and display names (core)",
        cargo: &["-p", "g360-mail-core", "--test", "fuzz_address"],
        filter: "prop_",
    },
    Target {
        name: "mime",
        what: "received MIME; render then parse (mime)",
        cargo: &["-p", "g360-mail-mime", "--test", "fuzz"],
        filter: "prop_",
    },
    Target {
        name: "graph",
        what: "Graph and token JSON answers, error classification (o365)",
        cargo: &["-p", "g360-mail-o365", "--lib"],
        filter: "fuzz_tests::prop_",
    },
    Target {
        name: "smtp",
        what: "SMTP replies, parsing and classification (smtp)",
        cargo: &["-p", "g360-mail-smtp", "--lib"],
        filter: "fuzz_tests::prop_",
    },
    Target {
        name: "config",
        what: "configuration TOML and environment (erp-bridge)",
        cargo: &["-p", "g360-erp-bridge", "--test", "it"],
        filter: "fuzz_config::prop_",
    },
    Target {
        name: "csv",
        what: "the CSV reader of send --from-csv (cli)",
        cargo: &["-p", "g360-mail", "--bin", "g360-mail"],
        filter: "bulk::fuzz::prop_",
    },
];

/// Cases per property in the first run of a target; later runs are sized to
/// take about [`RUN_TARGET`].
const FIRST_CASES: u64 = 500;
const RUN_TARGET: Duration = Duration::from_secs(60);

/// What one target did.
struct Outcome {
    name: &'static str,
    runs: u32,
    cases: u64,
    elapsed: Duration,
    finding: Option<String>,
}

pub(crate) fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let mut only: Option<String> = None;
    let mut minutes = 1.0_f64;
    let mut release = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--target" => only = Some(it.next().ok_or("--target needs a NAME")?.clone()),
            "--minutes" => {
                minutes = it
                    .next()
                    .and_then(|m| m.parse().ok())
                    .filter(|m: &f64| *m > 0.0)
                    .ok_or("--minutes needs a positive number")?;
            }
            "--release" => release = true,
            "--list" => {
                for t in TARGETS {
                    println!("{:<8} {}", t.name, t.what);
                }
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}\n\n{}", usage())),
        }
    }
    let targets: Vec<&Target> = match &only {
        Some(name) => vec![
            TARGETS
                .iter()
                .find(|t| t.name == name)
                .ok_or_else(|| format!("unknown fuzz target {name:?}\n\n{}", usage()))?,
        ],
        None => TARGETS.iter().collect(),
    };
    let budget = Duration::from_secs_f64(minutes * 60.0);
    let mut outcomes = Vec::new();
    for t in targets {
        outcomes.push(fuzz(root, t, budget, release)?);
    }
    println!("\n{:<8} {:>5} {:>12} {:>8}  result", "target", "runs", "cases", "minutes");
    for o in &outcomes {
        println!(
            "{:<8} {:>5} {:>12} {:>8.1}  {}",
            o.name,
            o.runs,
            o.cases,
            o.elapsed.as_secs_f64() / 60.0,
            if o.finding.is_some() { "FINDING (see above)" } else { "no finding" }
        );
    }
    let found: Vec<&str> =
        outcomes.iter().filter(|o| o.finding.is_some()).map(|o| o.name).collect();
    if found.is_empty() { Ok(()) } else { Err(format!("findings in: {}", found.join(", "))) }
}

fn usage() -> String {
    let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
    format!(
        "usage: cargo xtask fuzz [--target NAME] [--minutes N] [--release] [--list]\n\ntargets: {}",
        names.join(", ")
    )
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn test_command(root: &Path, t: &Target, release: bool) -> Command {
    let mut c = Command::new(cargo());
    c.current_dir(root).arg("test").args(t.cargo);
    if release {
        c.arg("--release");
    }
    c.env("RUST_BACKTRACE", "0");
    c
}

/// Builds the target's test binary, counts its properties, then runs them
/// until `budget` is spent.
fn fuzz(root: &Path, t: &Target, budget: Duration, release: bool) -> Result<Outcome, String> {
    println!("== {}: {}", t.name, t.what);
    let status = test_command(root, t, release)
        .arg("--no-run")
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("{}: the test binary does not build", t.name));
    }
    let list = test_command(root, t, release)
        .args(["--", t.filter, "--list"])
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let properties =
        String::from_utf8_lossy(&list.stdout).lines().filter(|l| l.ends_with(": test")).count()
            as u64;
    if properties == 0 {
        return Err(format!("{}: no property matches {:?}", t.name, t.filter));
    }
    let start = Instant::now();
    let mut outcome =
        Outcome { name: t.name, runs: 0, cases: 0, elapsed: Duration::ZERO, finding: None };
    let mut cases = FIRST_CASES;
    while start.elapsed() < budget {
        let run_start = Instant::now();
        let out = test_command(root, t, release)
            .env("G360_FUZZ_CASES", cases.to_string())
            .args(["--", t.filter])
            .output()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        let took = run_start.elapsed();
        outcome.runs += 1;
        if !out.status.success() {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            println!("{text}");
            outcome.finding = Some(text);
            break;
        }
        outcome.cases += cases * properties;
        println!(
            "   run {:>3}: {} cases x {} properties in {:.1} s ({:.1} of {:.1} min)",
            outcome.runs,
            cases,
            properties,
            took.as_secs_f64(),
            start.elapsed().as_secs_f64() / 60.0,
            budget.as_secs_f64() / 60.0
        );
        // Size the next run to about a minute, and to what time is left.
        let per_case = took.as_secs_f64() / cases as f64;
        let left = budget.saturating_sub(start.elapsed()).as_secs_f64();
        let wanted = (RUN_TARGET.as_secs_f64().min(left) / per_case.max(1e-9)) as u64;
        cases = wanted.clamp(50, 10_000_000);
        if left < 1.0 {
            break;
        }
    }
    outcome.elapsed = start.elapsed();
    Ok(outcome)
}
