//! `cargo xtask deny`: cargo-deny with the advisory database offline.

use std::path::Path;

use crate::run;

/// The snapshot shipped beside the project (see `../shared/tools/README.md`).
const SNAPSHOT_GLOB_PREFIX: &str = "rustsec-advisory-db-";

pub(crate) fn run(root: &Path) -> Result<(), String> {
    if run::output(root, "cargo", &["deny", "--version"]).is_err() {
        return Err("cargo-deny is not installed: run `cargo install cargo-deny --locked` (about 3 minutes on 2 cores)".into());
    }
    let db = match std::env::var("G360_ADVISORY_DB") {
        Ok(configured) if !configured.is_empty() => {
            println!("advisory database: {configured} (from G360_ADVISORY_DB)");
            configured
        }
        _ => extract_snapshot(root)?,
    };
    run::cargo(
        root,
        &["deny", "--offline", "check", "--hide-inclusion-graph"],
        &[("G360_ADVISORY_DB", &db)],
    )
}

/// Extracts the newest snapshot under `../shared/tools` into
/// `target/advisory-db` (once) and returns that directory.
fn extract_snapshot(root: &Path) -> Result<String, String> {
    let tools = root.join("../shared/tools");
    let mut snapshots: Vec<_> = std::fs::read_dir(&tools)
        .map_err(|e| {
            format!(
                "no advisory database: set G360_ADVISORY_DB, or provide {} ({e})",
                tools.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(SNAPSHOT_GLOB_PREFIX) && n.ends_with(".tar.gz"))
        })
        .collect();
    snapshots.sort();
    let snapshot = snapshots
        .pop()
        .ok_or_else(|| format!("no {SNAPSHOT_GLOB_PREFIX}*.tar.gz in {}", tools.display()))?;
    let name = snapshot.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let date = name.trim_start_matches(SNAPSHOT_GLOB_PREFIX).trim_end_matches(".tar.gz");
    let target = root.join("target/advisory-db");
    let marker = target.join(format!(".extracted-{date}"));
    if !marker.exists() {
        let _ = std::fs::remove_dir_all(&target);
        std::fs::create_dir_all(&target)
            .map_err(|e| format!("cannot create {}: {e}", target.display()))?;
        let snapshot_s = snapshot.to_string_lossy().into_owned();
        let target_s = target.to_string_lossy().into_owned();
        run::cmd(root, "tar", &["-xzf", &snapshot_s, "-C", &target_s], &[])?;
        std::fs::write(&marker, b"")
            .map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
    }
    println!("advisory database: offline snapshot of {date} ({})", snapshot.display());
    Ok(target.to_string_lossy().into_owned())
}
