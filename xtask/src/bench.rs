//! `cargo xtask bench`: release builds of the bench and of `g360-mail`, then
//! the bench itself (see `docs/performance.md`). Every other argument goes to
//! the bench: `--quick`, `--write-doc`, `--only graph-send,smtp`, ...

use std::path::Path;
use std::process::Command;

use crate::run;

pub(crate) fn run(root: &Path, args: &[String]) -> Result<(), String> {
    run::cargo(root, &["build", "--release", "-p", "g360-mail-bench", "-p", "g360-mail"], &[])?;
    let bench = root.join("target/release/g360-mail-bench");
    let cli = root.join("target/release/g360-mail");
    println!("$ g360-mail-bench {}", args.join(" "));
    let status = Command::new(&bench)
        .arg("--cli")
        .arg(&cli)
        .arg("--out")
        .arg(root.join("target/bench/report.json"))
        .arg("--doc")
        .arg(root.join("docs/performance.md"))
        .args(args)
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", bench.display()))?;
    if status.success() { Ok(()) } else { Err(format!("the bench failed ({status})")) }
}
