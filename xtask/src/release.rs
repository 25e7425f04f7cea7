//! `cargo xtask release <major|minor|patch|X.Y.Z> [--execute]`.
//!
//! Refuses on a dirty tree or a failing `cargo xtask ci`; bumps
//! `workspace.package.version` and the `version` of every internal crate in
//! `[workspace.dependencies]`; moves the `## Unreleased` section of
//! `CHANGELOG.md` under the new version with today's date; commits and tags
//! `vX.Y.Z`. A dry run (the default) says what it would do and changes nothing.

use std::path::Path;

use crate::run;

/// A version `X.Y.Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Version(u64, u64, u64);

impl Version {
    fn parse(s: &str) -> Option<Version> {
        let mut it = s.trim().split('.').map(|p| p.parse::<u64>().ok());
        match (it.next(), it.next(), it.next(), it.next()) {
            (Some(Some(a)), Some(Some(b)), Some(Some(c)), None) => Some(Version(a, b, c)),
            _ => None,
        }
    }

    fn bump(self, how: &str) -> Result<Version, String> {
        let Version(a, b, c) = self;
        let next = match how {
            "major" => Version(a + 1, 0, 0),
            "minor" => Version(a, b + 1, 0),
            "patch" => Version(a, b, c + 1),
            explicit => Version::parse(explicit).ok_or_else(|| {
                format!("{explicit:?} is neither major, minor, patch nor a version X.Y.Z")
            })?,
        };
        if next <= self {
            return Err(format!("the new version {next} is not above the current {self}"));
        }
        Ok(next)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

pub(crate) fn main(root: &Path, args: &[String]) -> Result<(), String> {
    let execute = args.iter().any(|a| a == "--execute");
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let [how] = positional.as_slice() else {
        return Err("usage: cargo xtask release <major|minor|patch|X.Y.Z> [--execute]".into());
    };
    if let Some(unknown) = args.iter().find(|a| a.starts_with("--") && *a != "--execute") {
        return Err(format!("unknown option {unknown}"));
    }
    let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    release(root, how, execute, &today, &crate::ci)
}

/// The current `workspace.package.version`.
pub(crate) fn current_version(root: &Path) -> Result<Version, String> {
    let manifest = read(&root.join("Cargo.toml"))?;
    workspace_version(&manifest)
        .ok_or_else(|| "no version in [workspace.package] of Cargo.toml".into())
}

fn workspace_version(manifest: &str) -> Option<Version> {
    let mut in_package = false;
    for line in manifest.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_package = t == "[workspace.package]";
        } else if in_package && let Some(v) = t.strip_prefix("version") {
            let v = v.trim_start().strip_prefix('=')?.trim().trim_matches('"');
            return Version::parse(v);
        }
    }
    None
}

/// The manifest with the workspace version and internal crates' versions set to `new`.
fn bump_manifest(manifest: &str, old: Version, new: Version) -> String {
    let mut section = String::new();
    let mut out = String::with_capacity(manifest.len());
    let (old_v, new_v) = (format!("\"{old}\""), format!("\"{new}\""));
    for line in manifest.split_inclusive('\n') {
        let t = line.trim();
        if t.starts_with('[') {
            section = t.to_owned();
        }
        let is_version_line = section == "[workspace.package]" && t.starts_with("version");
        let is_internal_dep = section == "[workspace.dependencies]"
            && t.contains("path = ")
            && t.contains("version = ");
        if is_version_line || is_internal_dep {
            out.push_str(&line.replacen(&old_v, &new_v, 1));
        } else {
            out.push_str(line);
        }
    }
    out
}

/// The changelog with `## Unreleased` emptied and its content under the new version.
fn move_unreleased(changelog: &str, new: Version, today: &str) -> Result<String, String> {
    let start =
        changelog.find("\n## Unreleased").ok_or("CHANGELOG.md has no `## Unreleased` section")? + 1;
    let body_start = changelog[start..].find('\n').map_or(changelog.len(), |i| start + i + 1);
    let body_end =
        changelog[body_start..].find("\n## ").map_or(changelog.len(), |i| body_start + i + 1);
    let body = changelog[body_start..body_end].trim();
    if body.is_empty() {
        return Err(
            "the `## Unreleased` section of CHANGELOG.md is empty: nothing to release".into()
        );
    }
    Ok(format!(
        "{}## Unreleased\n\n## [{new}] - {today}\n\n{body}\n\n{}",
        &changelog[..start],
        &changelog[body_end..]
    ))
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The release itself; `ci` is `cargo xtask ci` (a parameter so tests can
/// stand in for it).
pub(crate) fn release(
    root: &Path,
    how: &str,
    execute: bool,
    today: &str,
    ci: &dyn Fn(&Path) -> Result<(), String>,
) -> Result<(), String> {
    let status = run::output(root, "git", &["status", "--porcelain"])?;
    if !status.trim().is_empty() {
        return Err(format!(
            "the working tree is not clean; commit or stash first:\n{}",
            status.trim_end()
        ));
    }
    let old = current_version(root)?;
    let new = old.bump(how)?;
    let tag = format!("v{new}");
    if !run::output(root, "git", &["tag", "--list", &tag])?.trim().is_empty() {
        return Err(format!("tag {tag} already exists"));
    }
    let manifest_path = root.join("Cargo.toml");
    let changelog_path = root.join("CHANGELOG.md");
    let manifest = bump_manifest(&read(&manifest_path)?, old, new);
    let changelog = move_unreleased(&read(&changelog_path)?, new, today)?;
    println!("release {old} -> {new} ({tag}, dated {today})");
    if !execute {
        println!(
            "dry run: nothing changed; run again with --execute to check CI, bump, commit and tag"
        );
        return Ok(());
    }
    ci(root).map_err(|e| format!("`cargo xtask ci` fails, not releasing: {e}"))?;
    write(&manifest_path, &manifest)?;
    write(&changelog_path, &changelog)?;
    if root.join("Cargo.lock").exists() {
        run::cargo(root, &["update", "--workspace", "--offline"], &[])?;
    }
    run::cmd(root, "git", &["commit", "--quiet", "--all", "-m", &format!("Release {tag}")], &[])?;
    run::cmd(root, "git", &["tag", "--annotate", &tag, "-m", &tag], &[])?;
    println!("released {tag}: push with `git push origin main {tag}`");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "[workspace]\nresolver = \"3\"\nmembers = [\"a\"]\n\n[workspace.package]\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace.dependencies]\na = { path = \"a\", version = \"0.1.0\" }\nserde = { version = \"0.1.0\" }\n";
    const CHANGELOG: &str = "# Changelog\n\n## Unreleased\n\n### Added\n- a thing\n\n## [0.0.9] - 2026-01-01\n\n- old\n";

    fn git(dir: &Path, args: &[&str]) -> String {
        run::output(dir, "git", args).unwrap()
    }

    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(p.join("Cargo.toml"), MANIFEST).unwrap();
        std::fs::write(p.join("CHANGELOG.md"), CHANGELOG).unwrap();
        std::fs::create_dir_all(p.join("a/src")).unwrap();
        std::fs::write(
            p.join("a/Cargo.toml"),
            "[package]\nname = \"a\"\nversion.workspace = true\nedition.workspace = true\n",
        )
        .unwrap();
        std::fs::write(p.join("a/src/lib.rs"), "").unwrap();
        git(p, &["init", "--quiet", "--initial-branch", "main"]);
        git(p, &["config", "user.email", "t@example.com"]);
        git(p, &["config", "user.name", "t"]);
        git(p, &["add", "."]);
        git(p, &["commit", "--quiet", "-m", "init"]);
        dir
    }

    fn ok(_: &Path) -> Result<(), String> {
        Ok(())
    }

    #[test]
    fn bumps_versions() {
        let v = Version(1, 2, 3);
        assert_eq!(v.bump("major").unwrap(), Version(2, 0, 0));
        assert_eq!(v.bump("minor").unwrap(), Version(1, 3, 0));
        assert_eq!(v.bump("patch").unwrap(), Version(1, 2, 4));
        assert_eq!(v.bump("1.5.0").unwrap(), Version(1, 5, 0));
        assert!(v.bump("1.2.3").is_err());
        assert!(v.bump("banana").is_err());
    }

    #[test]
    fn executes_a_release_in_a_temporary_repository() {
        let dir = repo();
        let p = dir.path();
        release(p, "minor", true, "2026-11-29", &ok).unwrap();
        let manifest = std::fs::read_to_string(p.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace.package]\nversion = \"0.2.0\""), "{manifest}");
        assert!(manifest.contains("a = { path = \"a\", version = \"0.2.0\" }"), "{manifest}");
        assert!(
            manifest.contains("serde = { version = \"0.1.0\" }"),
            "external crates untouched: {manifest}"
        );
        let changelog = std::fs::read_to_string(p.join("CHANGELOG.md")).unwrap();
        assert_eq!(
            changelog,
            "# Changelog\n\n## Unreleased\n\n## [0.2.0] - 2026-11-29\n\n### Added\n- a thing\n\n## [0.0.9] - 2026-01-01\n\n- old\n"
        );
        assert_eq!(git(p, &["tag", "--list"]).trim(), "v0.2.0");
        assert_eq!(git(p, &["log", "-1", "--format=%s"]).trim(), "Release v0.2.0");
        assert!(git(p, &["status", "--porcelain"]).trim().is_empty());
        // Releasing again with nothing new is refused.
        assert!(release(p, "patch", true, "2026-11-30", &ok).unwrap_err().contains("empty"));
    }

    #[test]
    fn a_dry_run_changes_nothing() {
        let dir = repo();
        release(dir.path(), "patch", false, "2026-11-29", &ok).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("Cargo.toml")).unwrap(), MANIFEST);
        assert!(git(dir.path(), &["tag", "--list"]).trim().is_empty());
    }

    #[test]
    fn refuses_a_dirty_tree_and_a_failing_ci() {
        let dir = repo();
        std::fs::write(dir.path().join("a/src/lib.rs"), "// edit").unwrap();
        let err = release(dir.path(), "patch", true, "2026-11-29", &ok).unwrap_err();
        assert!(err.contains("not clean"), "{err}");

        let dir = repo();
        let failing = |_: &Path| Err("clippy failed".to_owned());
        let err = release(dir.path(), "patch", true, "2026-11-29", &failing).unwrap_err();
        assert!(err.contains("clippy failed"), "{err}");
        assert_eq!(std::fs::read_to_string(dir.path().join("Cargo.toml")).unwrap(), MANIFEST);
        assert!(git(dir.path(), &["tag", "--list"]).trim().is_empty());
    }
}
