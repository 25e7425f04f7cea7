//! `cargo xtask`: the chores of the g360-mail workspace.
//!
//! - `cargo xtask ci` — what CI runs: format check, clippy with `-D warnings`,
//!   every test, docs with warnings denied, `cargo deny`.
//! - `cargo xtask release <major|minor|patch|X.Y.Z> [--execute]` — bump the
//!   lock-step version, date the changelog, commit and tag (dry run unless
//!   `--execute`).
//! - `cargo xtask deny` — licences, bans, sources and advisories (offline,
//!   against the snapshot in `../shared/tools` when no other is configured).
//! - `cargo xtask dist` — the release binary and its SHA-256 checksum.
//! - `cargo xtask bench [--quick] [--write-doc]` — the benchmark of issue 7
//!   (`docs/performance.md`).
//! - `cargo xtask fuzz [--target NAME] [--minutes N] [--release]` — the
//!   property tests of every parser of outside input, with many more cases,
//!   for a time budget per target (CONTRIBUTING.md, "Fuzzing").
//! - `cargo xtask new-provider NAME` — the scaffold of a provider crate in
//!   `crates/NAME`, added to the workspace (not registered anywhere).
//! - `cargo xtask tidy` — the house rules a machine can check (see `tidy.rs`);
//!   also run as a test by `cargo test`.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a command line prints")]
#![allow(clippy::disallowed_methods, reason = "xtask reads its own environment")]

mod bench;
mod deny;
mod dist;
mod fuzz;
mod new_provider;
mod release;
mod run;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  ci                                  fmt check, clippy -D warnings, tests, docs, deny (what .ci/run runs)
  release <major|minor|patch|X.Y.Z>   bump version, date CHANGELOG, commit, tag (dry run; --execute to do it)
  deny                                cargo deny check: licences, bans, sources, advisories (offline)
  dist                                release build of g360-mail and its SHA-256 checksum in target/dist/
  bench [--quick] [--write-doc]       benchmark against raw HTTP/SMTP baselines; target/bench/report.json
  fuzz [--target NAME] [--minutes N]  property tests of the parsers of outside input, N minutes per target (--list, --release)
  new-provider NAME                   scaffold crates/NAME (package g360-mail-NAME) and add it to the workspace
  tidy                                the house rules a machine can check (also a test of cargo test)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = root();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(&root),
        Some("release") => release::main(&root, &args[1..]),
        Some("deny") => deny::run(&root),
        Some("dist") => dist::run(&root),
        Some("bench") => bench::run(&root, &args[1..]),
        Some("fuzz") => fuzz::run(&root, &args[1..]),
        Some("new-provider") => new_provider::main(&root, &args[1..]),
        Some("tidy") => tidy::run(&root),
        Some("help" | "--help" | "-h") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown task {other:?}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// What CI runs, in order, stopping at the first failure.
pub(crate) fn ci(root: &Path) -> Result<(), String> {
    run::cargo(root, &["fmt", "--all", "--", "--check"], &[])?;
    run::cargo(
        root,
        &["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"],
        &[],
    )?;
    run::cargo(root, &["test", "--workspace", "--locked"], &[])?;
    // The scaffold test runs a nested cargo build of its own: kept out of
    // `cargo test`, run here and by `.ci/run`.
    run::cargo(root, &["test", "-p", "xtask", "--locked", "--", "--ignored", "the_scaffold"], &[])?;
    run::cargo(
        root,
        &["doc", "--workspace", "--no-deps", "--locked"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    deny::run(root)
}
