//! `cargo xtask tidy`: the house rules that a machine can check, also run as
//! a test so that `cargo test` keeps them (the technique of rust-analyzer's
//! `xtask/src/tidy.rs`).
//!
//! - core depends on no HTTP, SMTP, configuration or database crate;
//! - every Rust file opens with its `//!` header (or the crate README as docs);
//! - every error code a crate emits has a text in Spanish and English, and no
//!   text is kept for a code nothing emits;
//! - no link in the docs, READMEs or manifests points to a missing file;
//! - every provider crate keeps the same file map.

use std::fs;
use std::path::{Path, PathBuf};

/// Crates core must never depend on: the contract knows nothing of HTTP,
/// SMTP, configuration formats or databases.
const FORBIDDEN_IN_CORE: &[&str] = &[
    "axum",
    "figment",
    "http",
    "hyper",
    "lettre",
    "mail-parser",
    "reqwest",
    "rustls",
    "sqlx",
    "tokio",
    "toml",
];

/// The files every provider crate has (`docs/providers.md`): crate docs and
/// exports, serde settings, the factory the registry calls, the provider and
/// its error conversion.
const PROVIDER_FILE_MAP: &[&str] =
    &["lib.rs", "config.rs", "factory.rs", "provider.rs", "error.rs"];

/// The provider crates (those that implement `ProviderFactory`).
const PROVIDER_CRATES: &[&str] = &["file", "o365", "smtp"];

/// Where the Spanish and English texts of error codes live.
const TEXTS: &str = "crates/texts/src/lib.rs";

/// Runs every check and reports all problems at once.
pub(crate) fn run(root: &Path) -> Result<(), String> {
    let problems = check(root);
    if problems.is_empty() {
        println!("tidy: ok");
        Ok(())
    } else {
        Err(format!("tidy found {} problem(s):\n  {}", problems.len(), problems.join("\n  ")))
    }
}

/// Every problem found, one line each, naming the file.
pub(crate) fn check(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    core_dependencies(root, &mut problems);
    module_headers(root, &mut problems);
    error_code_texts(root, &mut problems);
    links(root, &mut problems);
    provider_file_map(root, &mut problems);
    problems
}

fn core_dependencies(root: &Path, problems: &mut Vec<String>) {
    let manifest = root.join("crates/core/Cargo.toml");
    let Ok(text) = fs::read_to_string(&manifest) else {
        problems.push(format!("{}: cannot read", manifest.display()));
        return;
    };
    let mut in_deps = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            // Dev-dependencies may use a runtime to drive tests.
            in_deps = line == "[dependencies]";
            continue;
        }
        if !in_deps || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line.split(['=', '.', ' ']).next().unwrap_or("").trim();
        if FORBIDDEN_IN_CORE.contains(&name) {
            problems.push(format!(
                "crates/core/Cargo.toml: core depends on `{name}`; core knows no HTTP, SMTP, \
                 configuration or database crate (docs/ARCHITECTURE.md): move that code to a provider \
                 crate or the bridge"
            ));
        }
    }
}

fn module_headers(root: &Path, problems: &mut Vec<String>) {
    for file in rust_files(root) {
        let Ok(text) = fs::read_to_string(&file) else { continue };
        let first = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
        if !(first.starts_with("//!") || first.starts_with("#![doc = include_str!(")) {
            problems.push(format!(
                "{}: no `//!` header; open the file with a line saying what the module is for",
                rel(root, &file)
            ));
        }
    }
}

/// Codes given as literals to `with_code("…")` in library code must have an
/// arm in the text table. Codes built at run time (AADSTS numbers, Graph codes
/// from tables) are covered by their crates' own tests.
fn error_code_texts(root: &Path, problems: &mut Vec<String>) {
    let Ok(texts) = fs::read_to_string(root.join(TEXTS)) else {
        problems.push(format!("{TEXTS}: cannot read"));
        return;
    };
    let mut seen = std::collections::BTreeMap::<String, String>::new();
    for file in rust_files(&root.join("crates")) {
        let path = rel(root, &file);
        if path.starts_with("crates/testkit/")
            || path.starts_with("crates/bench/")
            || path.contains("/tests/")
            || path == TEXTS
        {
            continue;
        }
        let Ok(text) = fs::read_to_string(&file) else { continue };
        // Unit tests at the bottom of a file make up codes of their own.
        let text = text.split("#[cfg(test)]").next().unwrap_or("");
        for code in literal_codes(text) {
            seen.entry(code).or_insert_with(|| path.clone());
        }
    }
    for (code, file) in seen {
        if !texts.contains(&format!("\"{code}\"")) {
            problems.push(format!(
                "{file}: error code `{code}` has no text in {TEXTS}; add its Spanish and English \
                 message and remedy"
            ));
        }
    }
    orphan_texts(root, &texts, problems);
}

/// A text whose code no crate emits is dead weight that drifts: every code in
/// the table must appear as a string literal in some crate's code, or, for
/// the codes Entra ID sends (`AADSTS<n>`), its number in the o365 crate.
fn orphan_texts(root: &Path, texts: &str, problems: &mut Vec<String>) {
    let mut sources = String::new();
    let mut o365 = String::new();
    for file in rust_files(&root.join("crates")) {
        let path = rel(root, &file);
        if path == TEXTS || path.contains("/tests/") || path.starts_with("crates/testkit/") {
            continue;
        }
        let Ok(text) = fs::read_to_string(&file) else { continue };
        if path.starts_with("crates/o365/") {
            o365.push_str(&text);
        }
        sources.push_str(&text);
    }
    for code in table_codes(texts) {
        let used = match code.strip_prefix("AADSTS") {
            Some(number) => contains_word(&o365, number),
            None => sources.contains(&format!("\"{code}\"")),
        };
        if !used {
            problems.push(format!(
                "{TEXTS}: text for `{code}`, which no crate emits; remove it or emit the code"
            ));
        }
    }
}

/// The codes of the `match code { "a" | "b" => … }` arms of `error_text`.
fn table_codes(texts: &str) -> Vec<String> {
    let Some(start) = texts.find("fn error_text") else { return Vec::new() };
    let body = &texts[start..];
    let body = &body[..body.find("_ => return None").unwrap_or(body.len())];
    let mut codes = Vec::new();
    for line in body.lines() {
        let line = line.trim();
        let Some(arm) = line.strip_suffix("=> (").or_else(|| line.split_once("=>").map(|(a, _)| a))
        else {
            continue;
        };
        let arm = arm.trim();
        if !arm.starts_with('"') {
            continue;
        }
        codes.extend(
            arm.split('|').map(|c| c.trim().trim_matches('"').to_owned()).filter(|c| !c.is_empty()),
        );
    }
    codes
}

fn contains_word(haystack: &str, word: &str) -> bool {
    haystack.match_indices(word).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + word.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

fn literal_codes(text: &str) -> Vec<String> {
    const NEEDLE: &str = "with_code(\"";
    let mut codes = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(NEEDLE) {
        rest = &rest[at + NEEDLE.len()..];
        if let Some(end) = rest.find('"') {
            codes.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    codes
}

fn links(root: &Path, problems: &mut Vec<String>) {
    let mut docs =
        vec![root.join("README.md"), root.join("CONTRIBUTING.md"), root.join("CHANGELOG.md")];
    collect(&root.join("docs"), &mut docs, &|p| p.extension().is_some_and(|e| e == "md"));
    for dir in crate_dirs(root) {
        docs.push(dir.join("README.md"));
    }
    for doc in docs.iter().filter(|d| d.exists()) {
        let Ok(text) = fs::read_to_string(doc) else { continue };
        for target in markdown_links(&text) {
            let base = doc.parent().unwrap_or(root);
            if !base.join(&target).exists() {
                problems.push(format!("{}: link to missing file `{target}`", rel(root, doc)));
            }
        }
    }
    // Manifests name documents in comments (`docs/adr/…`), relative to the root.
    let mut manifests = vec![root.join("Cargo.toml"), root.join("deny.toml")];
    manifests.extend(crate_dirs(root).into_iter().map(|d| d.join("Cargo.toml")));
    for manifest in manifests.iter().filter(|m| m.exists()) {
        let Ok(text) = fs::read_to_string(manifest) else { continue };
        for word in text.split(|c: char| c.is_whitespace() || "\"'`,()".contains(c)) {
            let word = word.trim_end_matches(['.', ':', ';']);
            if word.starts_with("docs/") && word.ends_with(".md") && !root.join(word).exists() {
                problems.push(format!("{}: names missing file `{word}`", rel(root, manifest)));
            }
        }
    }
}

/// The local targets of `[text](target)` links: no scheme, no pure anchors,
/// the `#anchor` cut off.
fn markdown_links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code_block = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code_block = !in_code_block;
            continue;
        }
        if in_code_block {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let Some(end) = rest.find(')') else { break };
            let target = rest[..end].split_whitespace().next().unwrap_or("");
            let target = target.split('#').next().unwrap_or("");
            // Crate READMEs are rustdoc too: `[x](crate::Item)` is an intra-doc link.
            let is_file = target.contains('.') || target.contains('/');
            if !target.is_empty()
                && is_file
                && !target.contains("::")
                && !target.contains("://")
                && !target.starts_with("mailto:")
            {
                out.push(target.to_owned());
            }
            rest = &rest[end..];
        }
    }
    out
}

fn provider_file_map(root: &Path, problems: &mut Vec<String>) {
    for krate in PROVIDER_CRATES {
        let src = root.join("crates").join(krate).join("src");
        for file in PROVIDER_FILE_MAP {
            if !src.join(file).exists() {
                problems.push(format!(
                    "crates/{krate}/src: no {file}; every provider crate keeps the file map {} \
                     (docs/providers.md)",
                    PROVIDER_FILE_MAP.join(", ")
                ));
            }
        }
        let factory = fs::read_to_string(src.join("factory.rs")).unwrap_or_default();
        if src.join("factory.rs").exists() && !factory.contains("impl ProviderFactory for") {
            problems.push(format!(
                "crates/{krate}/src/factory.rs: the `ProviderFactory` impl belongs here"
            ));
        }
    }
}

fn crate_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(root.join("crates"))
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    dirs.push(root.join("xtask"));
    dirs.push(root.join("tests"));
    dirs.sort();
    dirs
}

/// Every `.rs` file of the workspace's crates, xtask and tests, outside `target/`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if dir.join("crates").exists() {
        for d in crate_dirs(dir) {
            collect(&d, &mut files, &|p| p.extension().is_some_and(|e| e == "rs"));
        }
    } else {
        collect(dir, &mut files, &|p| p.extension().is_some_and(|e| e == "rs"));
    }
    files.sort();
    files
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>, keep: &dyn Fn(&Path) -> bool) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name == "node_modules" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(&path, out, keep);
        } else if keep(&path) {
            out.push(path);
        }
    }
}

fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The workspace keeps its own rules.
    #[test]
    fn the_workspace_is_tidy() {
        let problems = check(&crate::root());
        assert!(problems.is_empty(), "cargo xtask tidy:\n  {}", problems.join("\n  "));
    }

    #[test]
    fn finds_links_but_not_urls_anchors_or_code() {
        let text = "see [a](docs/a.md#x) and [b](https://x.y/z) and [c](#top) and [e](crate::E)\n```\n[d](nope.md)\n```\n";
        assert_eq!(markdown_links(text), vec!["docs/a.md".to_owned()]);
    }

    #[test]
    fn reads_the_codes_of_the_text_table() {
        let texts = "fn error_text(code: &str) {\n    let (es, en) = match code {\n        \"a.b\" => (\n            (\"x\", \"y\"),\n        ),\n        \"AADSTS7000215\" | \"AADSTS7000222\" => (\n        _ => return None,\n";
        assert_eq!(table_codes(texts), ["a.b", "AADSTS7000215", "AADSTS7000222"]);
        assert!(contains_word("1002012 | 70011 =>", "70011"));
        assert!(!contains_word("700112", "70011"));
    }

    #[test]
    fn finds_literal_codes() {
        let text = r#"Error::new(k, "m").with_code("smtp.x").with_code(code).with_code("o365.y")"#;
        assert_eq!(literal_codes(text), vec!["smtp.x".to_owned(), "o365.y".to_owned()]);
    }

    #[test]
    fn a_forbidden_dependency_in_core_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("crates/core")).unwrap();
        fs::write(
            dir.path().join("crates/core/Cargo.toml"),
            "[dependencies]\nserde.workspace = true\nreqwest = { workspace = true }\n\n[dev-dependencies]\ntokio.workspace = true\n",
        )
        .unwrap();
        let mut problems = Vec::new();
        core_dependencies(dir.path(), &mut problems);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("`reqwest`"), "{problems:?}");
    }

    #[test]
    fn a_file_without_header_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("crates/x/src");
        fs::create_dir_all(&src).unwrap();
        fs::write(src.join("lib.rs"), "#![doc = include_str!(\"../README.md\")]\nmod a;\n")
            .unwrap();
        fs::write(src.join("a.rs"), "\n//! The a module.\n").unwrap();
        fs::write(src.join("b.rs"), "use std::fs;\n").unwrap();
        let mut problems = Vec::new();
        module_headers(dir.path(), &mut problems);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("crates/x/src/b.rs"), "{problems:?}");
    }
}
