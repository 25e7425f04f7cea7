//! `cargo xtask new-provider NAME`: the scaffold of a provider crate.
//!
//! Writes `crates/NAME/` (package `g360-mail-NAME`, provider type `NAME`)
//! from the templates in `xtask/templates/provider/`, formats it with
//! rustfmt, and adds it to `members` and `[workspace.dependencies]` of the
//! root `Cargo.toml` next to the other internal crates (toml_edit keeps the
//! rest of the file as it was). It registers nothing:
//! the application decides which providers it offers, so the command prints
//! the one line to add to the CLI.
//!
//! The scaffold compiles, passes clippy and its tests, and is honest about
//! what it is: no capability claimed, `Unsupported` "not written yet" errors,
//! a failed `scaffold` verify check, and the full conformance suite waiting
//! behind `#[ignore]` until `send` is written.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use toml_edit::{Array, DocumentMut, InlineTable, Item, Key, Value};

use crate::run;

const USAGE: &str = "usage: cargo xtask new-provider NAME   (NAME: lowercase letters, digits and `-`, such as `pigeon`)";

/// The files of a provider crate: path inside the crate, template.
const FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../templates/provider/Cargo.toml.tmpl")),
    ("README.md", include_str!("../templates/provider/README.md.tmpl")),
    ("src/lib.rs", include_str!("../templates/provider/src/lib.rs.tmpl")),
    ("src/config.rs", include_str!("../templates/provider/src/config.rs.tmpl")),
    ("src/error.rs", include_str!("../templates/provider/src/error.rs.tmpl")),
    ("src/factory.rs", include_str!("../templates/provider/src/factory.rs.tmpl")),
    ("src/provider.rs", include_str!("../templates/provider/src/provider.rs.tmpl")),
    ("tests/conformance.rs", include_str!("../templates/provider/tests/conformance.rs.tmpl")),
];

/// Names a provider crate may not take even when no crate of that name
/// exists here: crates and provider types of the workspace, their aliases,
/// and words that would read as something else.
const RESERVED: &[&str] = &[
    "all",
    "bridge",
    "cli",
    "core",
    "erp",
    "erp-bridge",
    "file",
    "g360",
    "graph",
    "mail",
    "mime",
    "mock",
    "o365",
    "office365",
    "outbox",
    "recording",
    "smtp",
    "testkit",
    "tests",
    "xtask",
];

const MAX_NAME_LEN: usize = 32;

pub(crate) fn main(root: &Path, args: &[String]) -> Result<(), String> {
    let [name] = args else {
        return Err(USAGE.into());
    };
    if matches!(name.as_str(), "-h" | "--help" | "help") {
        println!("{USAGE}");
        return Ok(());
    }
    if name.starts_with('-') {
        return Err(format!("unknown option {name}\n{USAGE}"));
    }
    let created = scaffold(root, name)?;
    let names = Names::new(name);
    println!(
        "created crates/{} (package {}, provider type {:?}):",
        names.name, names.package, names.name
    );
    for path in &created {
        println!("  {}", path.display());
    }
    println!(
        "added \"crates/{}\" to members and {} to [workspace.dependencies] in Cargo.toml",
        names.name, names.package
    );
    println!();
    println!(
        "nothing is registered. To offer the provider in the CLI, add to crates/cli/Cargo.toml [dependencies]:"
    );
    println!("    {}.workspace = true", names.package);
    println!("and this one line to registry() in crates/cli/src/app.rs:");
    println!("    {}", names.register_line());
    println!();
    println!(
        "next: cargo test -p {} (it also records the crate in Cargo.lock, which CI checks with --locked)",
        names.package
    );
    Ok(())
}

/// The spellings of a provider name in the generated code.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Names {
    /// `carrier-pigeon`: folder, provider type.
    name: String,
    /// `g360-mail-carrier-pigeon`.
    package: String,
    /// `g360_mail_carrier_pigeon`.
    krate: String,
    /// `carrier_pigeon`: in function names.
    ident: String,
    /// `CarrierPigeon`: type prefix.
    camel: String,
    /// `CARRIER_PIGEON`: constant prefix.
    upper: String,
}

impl Names {
    fn new(name: &str) -> Names {
        let ident = name.replace('-', "_");
        let camel = name
            .split('-')
            .map(|part| {
                let mut chars = part.chars();
                chars
                    .next()
                    .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            })
            .collect();
        Names {
            name: name.to_owned(),
            package: format!("g360-mail-{name}"),
            krate: format!("g360_mail_{ident}"),
            upper: ident.to_ascii_uppercase(),
            ident,
            camel,
        }
    }

    fn register_line(&self) -> String {
        format!("{}::register(&mut registry);", self.krate)
    }

    fn render(&self, template: &str) -> String {
        template
            .replace("{{name}}", &self.name)
            .replace("{{package}}", &self.package)
            .replace("{{crate}}", &self.krate)
            .replace("{{ident}}", &self.ident)
            .replace("{{Name}}", &self.camel)
            .replace("{{NAME}}", &self.upper)
    }
}

/// Checks the spelling of `name`; [`taken_names`] checks what exists.
fn validate_name(name: &str) -> Result<(), String> {
    let hint = "use lowercase ASCII letters, digits and `-`, starting with a letter, such as `pigeon` or `carrier-pigeon`";
    if name.is_empty() {
        return Err(format!("the provider name is empty: {hint}"));
    }
    if name.starts_with("g360") {
        return Err(format!(
            "give the short name {:?}: the package is named g360-mail-NAME by itself",
            name.trim_start_matches("g360-").trim_start_matches("mail-")
        ));
    }
    if let Some(c) = name.chars().find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-')) {
        return Err(format!("the provider name {name:?} contains {c:?}: {hint}"));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!("the provider name {name:?} does not start with a letter: {hint}"));
    }
    if name.ends_with('-') || name.contains("--") {
        return Err(format!("the provider name {name:?} has an empty part between `-`: {hint}"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!("the provider name {name:?} is longer than {MAX_NAME_LEN} characters"));
    }
    if RESERVED.contains(&name) {
        return Err(format!(
            "{name:?} is reserved: it names a crate or provider type of the workspace, or reads as one"
        ));
    }
    Ok(())
}

/// Folder names under `crates/` and the provider types declared there (every
/// `*_PROVIDER_TYPE: &str = "…"` in their sources).
fn taken_names(root: &Path) -> Result<BTreeSet<String>, String> {
    let crates = root.join("crates");
    let mut taken = BTreeSet::new();
    let entries =
        fs::read_dir(&crates).map_err(|e| format!("cannot list {}: {e}", crates.display()))?;
    for entry in entries.flatten() {
        taken.insert(entry.file_name().to_string_lossy().into_owned());
        let src = entry.path().join("src");
        if src.is_dir() {
            provider_types_in(&src, &mut taken);
        }
    }
    Ok(taken)
}

fn provider_types_in(dir: &Path, types: &mut BTreeSet<String>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for path in entries.flatten().map(|e| e.path()) {
        if path.is_dir() {
            provider_types_in(&path, types);
        } else if path.extension().is_some_and(|e| e == "rs")
            && let Ok(text) = fs::read_to_string(&path)
        {
            for line in text.lines() {
                if let Some((_, value)) = line.split_once("_PROVIDER_TYPE: &str = \"")
                    && let Some((value, _)) = value.split_once('"')
                {
                    types.insert(value.to_owned());
                }
            }
        }
    }
}

/// Writes `crates/NAME/` and adds it to the root `Cargo.toml`; returns the
/// created files, relative to `root`. On any failure nothing is left behind.
fn scaffold(root: &Path, name: &str) -> Result<Vec<PathBuf>, String> {
    validate_name(name)?;
    if taken_names(root)?.contains(name) {
        return Err(format!(
            "{name:?} is taken: a folder crates/{name} or a provider type {name:?} exists"
        ));
    }
    let names = Names::new(name);
    let dir = root.join("crates").join(name);
    if fs::symlink_metadata(&dir).is_ok() {
        return Err(format!("{} exists already", dir.display()));
    }
    let manifest_path = root.join("Cargo.toml");
    let manifest = fs::read_to_string(&manifest_path)
        .map_err(|e| format!("cannot read {}: {e}", manifest_path.display()))?;
    let manifest = add_to_workspace(&manifest, name)?;

    let written = write_crate(root, &dir, &names).and_then(|created| {
        fs::write(&manifest_path, manifest)
            .map_err(|e| format!("cannot write {}: {e}", manifest_path.display()))?;
        Ok(created)
    });
    if written.is_err() {
        let _ = fs::remove_dir_all(&dir);
    }
    written
}

fn write_crate(root: &Path, dir: &Path, names: &Names) -> Result<Vec<PathBuf>, String> {
    let mut created = Vec::with_capacity(FILES.len());
    for (file, template) in FILES {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        fs::write(&path, names.render(template))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        created.push(Path::new("crates").join(&names.name).join(file));
    }
    // Names of different lengths move line breaks, so rustfmt has the last
    // word; it reads the workspace's rustfmt.toml.
    let mut args = vec!["--edition", "2024"];
    let rust_files: Vec<String> = created
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    args.extend(rust_files.iter().map(String::as_str));
    run::output(root, "rustfmt", &args)
        .map_err(|e| format!("the scaffold does not format: {e}"))?;
    Ok(created)
}

/// `manifest` with `"crates/NAME"` in `[workspace] members` and
/// `g360-mail-NAME = { path = "crates/NAME", version = "…" }` in
/// `[workspace.dependencies]`, each among the other internal crates: after
/// `core`, in the alphabetical run of crates that follows it. toml_edit
/// keeps every other byte as it was (comments, spacing, order).
fn add_to_workspace(manifest: &str, name: &str) -> Result<String, String> {
    let package = format!("g360-mail-{name}");
    let mut doc: DocumentMut =
        manifest.parse().map_err(|e| format!("Cargo.toml does not parse: {e}"))?;
    let workspace = doc
        .get_mut("workspace")
        .and_then(Item::as_table_mut)
        .ok_or("no [workspace] in Cargo.toml")?;

    let members = workspace
        .get_mut("members")
        .and_then(Item::as_array_mut)
        .ok_or("no members list in [workspace] of Cargo.toml")?;
    let one_per_line = members
        .iter()
        .all(|v| v.decor().prefix().and_then(|p| p.as_str()).is_some_and(|p| p.contains('\n')));
    if !one_per_line {
        return Err(
            "the members list of Cargo.toml is not one entry per line: add the crate by hand"
                .into(),
        );
    }
    let member_dirs = member_dirs(members);
    let indent = members
        .get(0)
        .and_then(|v| v.decor().prefix().and_then(|p| p.as_str()))
        .map_or("\n    ".to_owned(), str::to_owned);

    let deps = workspace
        .get("dependencies")
        .and_then(Item::as_table)
        .ok_or("no [workspace.dependencies] in Cargo.toml")?;
    if deps.contains_key(&package) {
        return Err(format!("{package} is in [workspace.dependencies] already"));
    }
    let dep_dirs: Vec<(usize, String)> = deps
        .iter()
        .enumerate()
        .filter_map(|(i, (_, item))| path_crate_dir(item).map(|dir| (i, dir)))
        .collect();
    if member_dirs.iter().chain(&dep_dirs).any(|(_, dir)| dir == name) {
        return Err(format!("crates/{name} is in Cargo.toml already"));
    }
    let version = deps
        .iter()
        .filter(|(_, item)| path_crate_dir(item).is_some())
        .find_map(|(_, item)| item.get("version").and_then(Item::as_str))
        .ok_or("no internal crate in [workspace.dependencies] has a version to copy")?
        .to_owned();

    let mut member = Value::from(format!("crates/{name}"));
    member.decor_mut().set_prefix(indent);
    let members = workspace["members"].as_array_mut().ok_or("no members list")?;
    members.insert_formatted(insertion_index(&member_dirs, name, 0), member);
    members.set_trailing_comma(true);
    if members.len() == 1 && !members.trailing().as_str().is_some_and(|t| t.contains('\n')) {
        members.set_trailing("\n");
    }

    let mut dep = InlineTable::new();
    dep.insert("path", format!("crates/{name}").into());
    dep.insert("version", version.into());
    dep.fmt();
    let deps = workspace["dependencies"].as_table_mut().ok_or("no [workspace.dependencies]")?;
    // Entries keep their order only when inserted in order: take off the
    // ones after the new entry and put them back behind it.
    let at = insertion_index(&dep_dirs, name, 0);
    let after: Vec<String> = deps.iter().skip(at).map(|(k, _)| k.to_owned()).collect();
    let after: Vec<(Key, Item)> = after.iter().filter_map(|k| deps.remove_entry(k)).collect();
    deps.insert(&package, Item::Value(Value::InlineTable(dep)));
    for (key, item) in after {
        deps.insert_formatted(&key, item);
    }

    let out = doc.to_string();
    // toml_edit ends the lines it writes with `\n`.
    Ok(if manifest.contains("\r\n") {
        out.replace("\r\n", "\n").replace('\n', "\r\n")
    } else {
        out
    })
}

/// Where a new entry `name` goes among `entries` (index, crate folder):
/// after `core` if present, at its alphabetical place in the sorted run that
/// follows; `empty` when there are no entries.
fn insertion_index(entries: &[(usize, String)], name: &str, empty: usize) -> usize {
    let start = entries.iter().position(|(_, d)| d == "core").map_or(0, |i| i + 1);
    let mut run: Vec<&(usize, String)> = Vec::new();
    for entry in &entries[start..] {
        if run.last().is_some_and(|last| last.1 >= entry.1) {
            break;
        }
        run.push(entry);
    }
    match run.iter().find(|(_, d)| d.as_str() > name) {
        Some(&&(i, _)) => i,
        None => match run.last().copied().or(start.checked_sub(1).map(|i| &entries[i])) {
            Some(&(i, _)) => i + 1,
            None => entries.first().map_or(empty, |&(i, _)| i),
        },
    }
}

/// The `(index, X)` of the members `"crates/X"`.
fn member_dirs(members: &Array) -> Vec<(usize, String)> {
    members
        .iter()
        .enumerate()
        .filter_map(|(i, v)| Some((i, v.as_str()?.strip_prefix("crates/")?.to_owned())))
        .collect()
}

/// `X` of a dependency `{ path = "crates/X", … }`.
fn path_crate_dir(dep: &Item) -> Option<String> {
    dep.get("path")?.as_str()?.strip_prefix("crates/").map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::process::Command;
    use std::time::Instant;

    use super::*;

    const MANIFEST: &str = r#"[workspace]
resolver = "3"
members = [
    "crates/core",
    "crates/file",
    "crates/smtp",
    "crates/erp-bridge",
    "crates/testkit",
    "xtask",
]

[workspace.package]
version = "0.3.1"

[workspace.dependencies]
# Internal crates.
g360-mail-core = { path = "crates/core", version = "0.3.1" }
g360-mail-file = { path = "crates/file", version = "0.3.1" }
g360-mail-smtp = { path = "crates/smtp", version = "0.3.1" }
g360-erp-bridge = { path = "crates/erp-bridge", version = "0.3.1" }
g360-mail-testkit = { path = "crates/testkit", version = "0.3.1" }

# External crates.
serde = "1"
"#;

    fn root() -> PathBuf {
        crate::root()
    }

    #[test]
    fn accepts_short_lowercase_names() {
        for name in ["pigeon", "carrier-pigeon", "pigeon2", "x", "a-1-b", "sendgrid"] {
            assert_eq!(validate_name(name), Ok(()), "{name}");
        }
        let longest = "a".repeat(MAX_NAME_LEN);
        assert_eq!(validate_name(&longest), Ok(()));
    }

    #[test]
    fn refuses_bad_and_reserved_names_saying_why() {
        let cases = [
            ("", "empty"),
            ("Pigeon", "contains 'P'"),
            ("pi_geon", "contains '_'"),
            ("pigeón", "contains 'ó'"),
            ("pigeon!", "contains '!'"),
            ("2fast", "does not start with a letter"),
            ("-pigeon", "does not start with a letter"),
            ("pigeon-", "empty part"),
            ("carrier--pigeon", "empty part"),
            ("g360-mail-pigeon", "short name \"pigeon\""),
            ("file", "reserved"),
            ("office365", "reserved"),
            ("o365", "reserved"),
            ("smtp", "reserved"),
            ("core", "reserved"),
            ("cli", "reserved"),
            ("testkit", "reserved"),
            ("erp-bridge", "reserved"),
        ];
        for (name, why) in cases {
            let err = validate_name(name).unwrap_err();
            assert!(err.contains(why), "{name:?}: {err}");
        }
        let err = validate_name(&"a".repeat(MAX_NAME_LEN + 1)).unwrap_err();
        assert!(err.contains("longer than"), "{err}");
    }

    #[test]
    fn spells_the_name_for_each_use() {
        let n = Names::new("carrier-pigeon-2");
        assert_eq!(n.name, "carrier-pigeon-2");
        assert_eq!(n.package, "g360-mail-carrier-pigeon-2");
        assert_eq!(n.krate, "g360_mail_carrier_pigeon_2");
        assert_eq!(n.ident, "carrier_pigeon_2");
        assert_eq!(n.camel, "CarrierPigeon2");
        assert_eq!(n.upper, "CARRIER_PIGEON_2");
        assert_eq!(n.register_line(), "g360_mail_carrier_pigeon_2::register(&mut registry);");
        for (file, template) in FILES {
            let text = n.render(template);
            for placeholder in ["{{name", "{{package", "{{crate", "{{ident", "{{Name", "{{NAME"] {
                assert!(!text.contains(placeholder), "{file}: {placeholder} left");
            }
        }
    }

    #[test]
    fn finds_the_crates_and_provider_types_of_the_workspace() {
        let taken = taken_names(&root()).unwrap();
        for name in ["core", "cli", "file", "smtp", "o365", "office365", "testkit", "recording"] {
            assert!(taken.contains(name), "{name} missing from {taken:?}");
        }

        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("crates/relay/src/deep");
        fs::create_dir_all(&src).unwrap();
        fs::write(src.join("mod.rs"), "pub const RELAY_PROVIDER_TYPE: &str = \"mailrelay\";\n")
            .unwrap();
        let taken = taken_names(dir.path()).unwrap();
        assert_eq!(taken.into_iter().collect::<Vec<_>>(), ["mailrelay", "relay"]);
    }

    #[test]
    fn adds_the_crate_among_the_internal_crates() {
        let out = add_to_workspace(MANIFEST, "pigeon").unwrap();
        let expected = MANIFEST
            .replace(
                "    \"crates/smtp\",\n",
                "    \"crates/pigeon\",\n    \"crates/smtp\",\n",
            )
            .replace(
                "g360-mail-smtp = {",
                "g360-mail-pigeon = { path = \"crates/pigeon\", version = \"0.3.1\" }\ng360-mail-smtp = {",
            );
        assert_eq!(out, expected);

        // Right after core when it sorts first; at the end of the sorted run
        // (before erp-bridge) when it sorts last.
        let out = add_to_workspace(MANIFEST, "aaa").unwrap();
        assert!(
            out.contains("\"crates/core\",\n    \"crates/aaa\",\n    \"crates/file\""),
            "{out}"
        );
        assert!(out.contains("\"0.3.1\" }\ng360-mail-aaa = { path = \"crates/aaa\", version = \"0.3.1\" }\ng360-mail-file"), "{out}");
        let out = add_to_workspace(MANIFEST, "zebra").unwrap();
        assert!(
            out.contains("\"crates/smtp\",\n    \"crates/zebra\",\n    \"crates/erp-bridge\""),
            "{out}"
        );
        assert!(out.contains("g360-mail-zebra = { path = \"crates/zebra\", version = \"0.3.1\" }\ng360-erp-bridge"), "{out}");

        let crlf = MANIFEST.replace('\n', "\r\n");
        let out = add_to_workspace(&crlf, "pigeon").unwrap();
        assert_eq!(out, expected.replace('\n', "\r\n"));
    }

    #[test]
    fn refuses_a_crate_already_in_the_manifest() {
        let err = add_to_workspace(MANIFEST, "file").unwrap_err();
        assert!(err.contains("already"), "{err}");
        let listed =
            MANIFEST.replace("serde = \"1\"", "g360-mail-pigeon = { path = \"../pigeon\" }");
        let err = add_to_workspace(&listed, "pigeon").unwrap_err();
        assert!(err.contains("g360-mail-pigeon is in [workspace.dependencies] already"), "{err}");
        let inline = MANIFEST.replace("members = [\n", "members = [\"a\",\n");
        assert!(add_to_workspace(&inline, "pigeon").unwrap_err().contains("by hand"));
    }

    #[test]
    fn edits_the_real_manifest_by_two_lines() {
        let real = fs::read_to_string(root().join("Cargo.toml")).unwrap();
        let out = add_to_workspace(&real, "pigeon").unwrap();
        let added: Vec<&str> =
            out.lines().filter(|l| l.contains("pigeon")).map(str::trim).collect();
        assert_eq!(added.len(), 2, "{added:?}");
        assert_eq!(added[0], "\"crates/pigeon\",");
        assert!(
            added[1].starts_with("g360-mail-pigeon = { path = \"crates/pigeon\", version = \"")
        );
        let back: Vec<&str> = out.lines().filter(|l| !l.contains("pigeon")).collect();
        assert_eq!(back, real.lines().collect::<Vec<_>>());
    }

    /// A root with the given manifest, the workspace's rustfmt.toml and an
    /// empty `crates/core`.
    fn small_root(manifest: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("Cargo.toml"), manifest).unwrap();
        fs::copy(root().join("rustfmt.toml"), dir.path().join("rustfmt.toml")).unwrap();
        fs::create_dir_all(dir.path().join("crates/core")).unwrap();
        dir
    }

    #[test]
    fn writes_formatted_files_or_nothing() {
        let dir = small_root(MANIFEST);
        let root = dir.path();
        let created = scaffold(root, "carrier-pigeon-express").unwrap();
        let expected: Vec<PathBuf> =
            FILES.iter().map(|(f, _)| Path::new("crates/carrier-pigeon-express").join(f)).collect();
        assert_eq!(created, expected);
        for file in &created {
            let text = fs::read_to_string(root.join(file)).unwrap();
            assert!(!text.contains("{{"), "{}", file.display());
        }
        let lib =
            fs::read_to_string(root.join("crates/carrier-pigeon-express/src/lib.rs")).unwrap();
        assert!(lib.contains(
            "pub const CARRIER_PIGEON_EXPRESS_PROVIDER_TYPE: &str = \"carrier-pigeon-express\";"
        ));
        let rust: Vec<_> = created
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .map(|p| p.as_os_str().to_owned())
            .collect();
        let check = Command::new("rustfmt")
            .args(["--check", "--edition", "2024"])
            .args(&rust)
            .current_dir(root)
            .output()
            .unwrap();
        assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
        let manifest = fs::read_to_string(root.join("Cargo.toml")).unwrap();
        assert_eq!(manifest, add_to_workspace(MANIFEST, "carrier-pigeon-express").unwrap());

        // A second time the folder is taken, and nothing changes.
        let err = scaffold(root, "carrier-pigeon-express").unwrap_err();
        assert!(err.contains("taken"), "{err}");
        assert_eq!(fs::read_to_string(root.join("Cargo.toml")).unwrap(), manifest);

        // The command line: one name, and a summary of what was done.
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(main(root, &args(&[])).unwrap_err().starts_with("usage:"));
        assert!(main(root, &args(&["a", "b"])).unwrap_err().starts_with("usage:"));
        assert!(main(root, &args(&["--force"])).unwrap_err().contains("unknown option"));
        main(root, &args(&["pigeon"])).unwrap();
        assert!(root.join("crates/pigeon/src/provider.rs").is_file());

        // A bad name or an unusable manifest writes nothing.
        assert!(scaffold(root, "Bad").is_err());
        assert!(!root.join("crates/Bad").exists());
        let dir = small_root("[workspace]\nmembers = [\"crates/core\"]\n");
        assert!(scaffold(dir.path(), "pigeon").unwrap_err().contains("by hand"));
        assert!(!dir.path().join("crates/pigeon").exists());
    }

    /// The real root manifest reduced to the members `core` and `testkit`
    /// and the internal dependencies on them; the rest stays as it is.
    fn minimal_manifest(real: &str) -> String {
        let keep = |dir: &str| dir == "core" || dir == "testkit";
        let mut doc: DocumentMut = real.parse().unwrap();
        let workspace = doc["workspace"].as_table_mut().unwrap();
        workspace["members"]
            .as_array_mut()
            .unwrap()
            .retain(|v| v.as_str().and_then(|m| m.strip_prefix("crates/")).is_some_and(keep));
        workspace["dependencies"]
            .as_table_mut()
            .unwrap()
            .retain(|_, item| path_crate_dir(item).is_none_or(|d| keep(&d)));
        doc.to_string()
    }

    #[test]
    fn reduces_the_real_manifest_to_core_and_testkit() {
        let out = minimal_manifest(&fs::read_to_string(root().join("Cargo.toml")).unwrap());
        assert!(
            out.contains("members = [\n    \"crates/core\",\n    \"crates/testkit\",\n]\n"),
            "{out}"
        );
        let doc: DocumentMut = out.parse().unwrap();
        let internal: Vec<_> = doc["workspace"]["dependencies"]
            .as_table()
            .unwrap()
            .iter()
            .filter_map(|(_, i)| path_crate_dir(i))
            .collect();
        assert_eq!(internal, ["core", "testkit"]);
        assert!(out.contains("[workspace.lints.rust]"));
    }

    /// Writes `bytes` to `path` unless it holds them already, so that cargo's
    /// fingerprints (file times) of unchanged files stay valid between runs.
    fn write_if_changed(path: &Path, bytes: &[u8]) {
        if fs::read(path).ok().as_deref() != Some(bytes) {
            fs::write(path, bytes).unwrap();
        }
    }

    /// Makes `dst` a copy of `src` without its `target/` folders.
    fn sync_tree(src: &Path, dst: &Path) {
        fs::create_dir_all(dst).unwrap();
        let mut names = BTreeSet::<OsString>::new();
        for entry in fs::read_dir(src).unwrap().flatten() {
            let name = entry.file_name();
            if name == "target" {
                continue;
            }
            let to = dst.join(&name);
            if entry.file_type().unwrap().is_dir() {
                if to.is_file() {
                    fs::remove_file(&to).unwrap();
                }
                sync_tree(&entry.path(), &to);
            } else {
                if to.is_dir() {
                    fs::remove_dir_all(&to).unwrap();
                }
                write_if_changed(&to, &fs::read(entry.path()).unwrap());
            }
            names.insert(name);
        }
        for entry in fs::read_dir(dst).unwrap().flatten() {
            if !names.contains(&entry.file_name()) {
                let path = entry.path();
                let _ =
                    if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
            }
        }
    }

    /// Runs `cargo ARGS` in `ws`; returns stdout and stderr, or panics with them.
    fn cargo(ws: &Path, target: &Path, args: &[&str]) -> String {
        let started = Instant::now();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args(args)
            .current_dir(ws)
            .env("CARGO_TARGET_DIR", target)
            .env("CARGO_TERM_COLOR", "never")
            .output()
            .unwrap();
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "`cargo {}` failed in {} ({}); with --offline every crate must be in \
             ~/.cargo/registry, which building the workspace first provides:\n{text}",
            args.join(" "),
            ws.display(),
            out.status
        );
        eprintln!("cargo {}: {:.1?}", args.join(" "), started.elapsed());
        text
    }

    /// The scaffold in a workspace of the real core and testkit: it formats,
    /// builds, passes clippy and its tests, and its conformance test runs.
    /// The workspace and its target folder live under `target/` at fixed
    /// paths, so dependencies compile once and later runs rebuild only the
    /// scaffold.
    #[test]
    #[ignore = "runs a nested cargo build (minutes): run by `cargo xtask ci` and `.ci/run`"]
    fn the_scaffold_builds_and_passes_its_tests_in_a_workspace() {
        let root = root();
        let base = root.join("target/xtask-scaffold-test");
        fs::create_dir_all(&base).unwrap();
        // Two test runs at once would share the workspace.
        let lock = fs::File::create(base.join(".lock")).unwrap();
        lock.lock().unwrap();

        let ws = base.join("workspace");
        for krate in ["core", "testkit"] {
            sync_tree(&root.join("crates").join(krate), &ws.join("crates").join(krate));
        }
        let stale = ws.join("crates/pigeon");
        if stale.exists() {
            fs::remove_dir_all(&stale).unwrap();
        }
        let real = fs::read_to_string(root.join("Cargo.toml")).unwrap();
        write_if_changed(&ws.join("Cargo.toml"), minimal_manifest(&real).as_bytes());
        for file in ["Cargo.lock", "rustfmt.toml", "clippy.toml"] {
            write_if_changed(&ws.join(file), &fs::read(root.join(file)).unwrap());
        }

        scaffold(&ws, "pigeon").unwrap();

        let target = base.join("target");
        cargo(&ws, &target, &["fmt", "--check", "-p", "g360-mail-pigeon"]);
        cargo(&ws, &target, &["build", "--offline"]);
        cargo(
            &ws,
            &target,
            &[
                "clippy",
                "--offline",
                "-p",
                "g360-mail-pigeon",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        );
        let out = cargo(&ws, &target, &["test", "--offline", "-p", "g360-mail-pigeon"]);
        for line in [
            "test pigeon_provider_passes_the_checks_that_apply_to_a_scaffold ... ok",
            "test pigeon_provider_passes_the_conformance_suite ... ignored, enable once send is written",
            "test factory::tests::registers_a_factory_that_checks_and_builds ... ok",
            "test provider::tests::verify_says_it_is_a_scaffold ... ok",
        ] {
            assert!(out.contains(line), "missing {line:?} in:\n{out}");
        }
        assert!(out.contains("Doc-tests g360_mail_pigeon"), "{out}");
        assert!(!out.contains("FAILED"), "{out}");
    }
}
