//! The standalone `graph-emulator` binary: what it prints on standard output
//! is the configuration alone, ready to save as a file.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn stdout_is_the_configuration_alone_and_parses_as_toml() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_graph-emulator"))
        .args(["--mailbox", "erp@contoso.example", "--mailbox", "ventas@contoso.example"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn graph-emulator");

    // The hint on standard error comes after the configuration is flushed.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut banner = String::new();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            banner.push_str(&line);
            banner.push('\n');
            if line.contains("Ctrl-C") {
                let _ = tx.send(banner.clone());
            }
        }
    });
    let banner = rx.recv_timeout(Duration::from_secs(60));
    child.kill().expect("kill graph-emulator");
    let mut stdout = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    child.wait().unwrap();
    let banner = banner.expect("graph-emulator did not get ready within 60 s");

    assert!(banner.contains("Graph emulator listening on http://127.0.0.1:"), "{banner}");
    let config: toml::Table =
        toml::from_str(&stdout).unwrap_or_else(|e| panic!("stdout is not TOML: {e}\n{stdout}"));
    let integrations = config["integrations"].as_array().unwrap();
    assert_eq!(integrations.len(), 1);
    assert_eq!(integrations[0]["provider"].as_str(), Some("office365"));
    let url = integrations[0]["graph_url"].as_str().unwrap();
    assert!(banner.contains(url), "banner names the URL of the configuration");
    let accounts = config["accounts"].as_array().unwrap();
    let addresses: Vec<_> = accounts.iter().map(|a| a["address"].as_str().unwrap()).collect();
    assert_eq!(addresses, ["erp@contoso.example", "ventas@contoso.example"]);
    assert_eq!(config.len(), 2, "nothing but integrations and accounts: {stdout}");
}
