//! `cargo xtask dist`: the release binary and its checksum.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::run;

pub(crate) fn run(root: &Path) -> Result<(), String> {
    run::cargo(root, &["build", "--release", "--locked", "-p", "g360-mail"], &[])?;
    let binary = root.join("target/release/g360-mail");
    let bytes =
        std::fs::read(&binary).map_err(|e| format!("cannot read {}: {e}", binary.display()))?;
    let version = crate::release::current_version(root)?;
    let dist = root.join("target/dist");
    std::fs::create_dir_all(&dist).map_err(|e| format!("cannot create {}: {e}", dist.display()))?;
    let name = format!("g360-mail-{version}-{}-{}", std::env::consts::ARCH, std::env::consts::OS);
    let out = dist.join(&name);
    // A copy keeps the binary's permissions (executable).
    std::fs::copy(&binary, &out).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    let sum = format!("{}  {name}\n", hex(&Sha256::digest(&bytes)));
    std::fs::write(dist.join(format!("{name}.sha256")), &sum)
        .map_err(|e| format!("cannot write checksum: {e}"))?;
    print!("{sum}");
    println!("wrote {} and {name}.sha256", out.display());
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
