//! Scenario 5: peak RSS of the release `g360-mail` binary sending through
//! the Graph emulator: one small mail, one mail with a 3 MiB attachment, and
//! a `send --from-csv` bulk run.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use g360_mail_testkit::graph::{GraphEmulator, MAIL_READ_WRITE};
use serde::Serialize;
use tokio::io::AsyncReadExt as _;
use tokio::runtime::Handle;

use crate::Options;
use crate::graph_send::pseudo_random;

/// Size of the attachment of the large send: 3 MB, the most the provider
/// declares it accepts before it holds a token (its `capabilities()` say
/// 3,000,000 bytes of content until a token with Mail.ReadWrite is cached,
/// and the CLI checks them before the first request). Sent as one
/// `sendMail` of just under 4 MB.
pub(crate) const ATTACHMENT_BYTES: usize = 2_999_000;
/// Size of the attachment of the upload-session send (3 MiB, needs
/// Mail.ReadWrite).
pub(crate) const UPLOAD_ATTACHMENT_BYTES: usize = 3 * 1024 * 1024;
/// The target: peak RSS under 4 × the attachment + 20 MiB.
pub(crate) const RSS_LIMIT_BYTES: u64 = 4 * ATTACHMENT_BYTES as u64 + 20 * 1024 * 1024;
const TIME: &str = "/usr/bin/time";
const MAILBOX: &str = "facturas@contoso.example";

/// What scenario 5 reports.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct MemoryReport {
    /// How peak RSS was read.
    pub(crate) method: String,
    /// The binary measured.
    pub(crate) binary: String,
    /// Peak RSS of `send` of one small text mail (the floor), bytes.
    pub(crate) small_send_peak_rss_bytes: u64,
    /// Bytes of the attachment.
    pub(crate) attachment_bytes: usize,
    /// Peak RSS of `send --attach` of the attachment, bytes.
    pub(crate) attachment_send_peak_rss_bytes: u64,
    /// Bytes of the upload-session attachment.
    pub(crate) upload_attachment_bytes: usize,
    /// Peak RSS of `send --attach` of the 3 MiB attachment (draft + upload
    /// session), when the CLI sent it.
    pub(crate) upload_send_peak_rss_bytes: Option<u64>,
    /// Why the CLI did not send the 3 MiB attachment, when it did not.
    pub(crate) upload_send_error: Option<String>,
    /// 4 × attachment + 20 MiB.
    pub(crate) attachment_limit_bytes: u64,
    /// Rows of the bulk run (small text mails).
    pub(crate) bulk_rows: usize,
    /// `--concurrency` of the bulk run.
    pub(crate) bulk_concurrency: u16,
    /// Peak RSS of `send --from-csv`, bytes.
    pub(crate) bulk_peak_rss_bytes: u64,
    /// (bulk peak − small send peak) / rows.
    pub(crate) bytes_per_queued_mail: u64,
    /// Wall-clock seconds of the bulk run, process start to exit.
    pub(crate) bulk_seconds: f64,
}

/// Runs scenario 5 with the `g360-mail` binary at `cli`.
pub(crate) async fn run(
    opts: &Options,
    servers: &Handle,
    cli: &Path,
) -> Result<MemoryReport, String> {
    // The CLI runs in a temporary directory.
    let cli = &std::fs::canonicalize(cli).map_err(|e| format!("{}: {e}", cli.display()))?;
    let emu = servers.spawn(GraphEmulator::start()).await.map_err(|e| e.to_string())?;
    let setup = emu.quick_setup(&[MAILBOX]);
    // A 3 MiB attachment is over Graph's 4 MB request limit after base64:
    // the provider takes the draft + upload-session path, which needs
    // Mail.ReadWrite.
    emu.update_app(&setup.client_id, |app| app.roles.push(MAIL_READ_WRITE.into()));
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let d = dir.path();
    let config = d.join("g360-mail.toml");
    write(&config, setup.toml_config(&emu.url()).as_bytes())?;
    write(&d.join("factura.pdf"), &pseudo_random(ATTACHMENT_BYTES, 3))?;
    write(&d.join("planos.pdf"), &pseudo_random(UPLOAD_ATTACHMENT_BYTES, 5))?;
    let mut csv = String::from("to,subject,body\n");
    for i in 0..opts.bulk_rows {
        csv.push_str(&format!(
            "cliente{}@fabrikam.example,Factura FV-2025-{i:06},Le enviamos la factura de su pedido.\n",
            i % 100
        ));
    }
    write(&d.join("envio.csv"), csv.as_bytes())?;
    let user = MAILBOX.split('@').next().unwrap_or(MAILBOX);
    let config = config.display().to_string();
    let base = ["--config", config.as_str(), "send", "--user", user];
    let small =
        [&base[..], &["--to", "cliente@fabrikam.example", "--subject", "Aviso", "--body", "Hola"]]
            .concat();
    let large = [&small[..], &["--attach", "factura.pdf"]].concat();
    let upload = [&small[..], &["--attach", "planos.pdf"]].concat();
    let concurrency = opts.bulk_concurrency.to_string();
    let bulk =
        [&base[..], &["--from-csv", "envio.csv", "--concurrency", concurrency.as_str()]].concat();

    let method = if Path::new(TIME).is_file() {
        format!("{TIME} -v (wait4 rusage of the child: ru_maxrss)")
    } else {
        "polling VmHWM of /proc/<pid>/status every 2 ms until exit (may miss a last peak)".into()
    };
    // The first run also warms the page cache with the binary.
    run_cli(cli, d, &small).await?;
    let small_peak = run_cli(cli, d, &small).await?.0;
    let large_peak = run_cli(cli, d, &large).await?.0;
    let (upload_peak, upload_error) = match run_cli(cli, d, &upload).await {
        Ok((peak, _)) => (Some(peak), None),
        Err(e) => (None, Some(cli_error(&e))),
    };
    let (bulk_peak, bulk_seconds) = run_cli(cli, d, &bulk).await?;
    let delivered = emu.deliveries().len();
    let expected = 2 + 1 + usize::from(upload_peak.is_some()) + opts.bulk_rows;
    if delivered != expected {
        return Err(format!("the emulator got {delivered} mails, expected {expected}"));
    }
    Ok(MemoryReport {
        method,
        binary: cli.display().to_string(),
        small_send_peak_rss_bytes: small_peak,
        attachment_bytes: ATTACHMENT_BYTES,
        attachment_send_peak_rss_bytes: large_peak,
        upload_attachment_bytes: UPLOAD_ATTACHMENT_BYTES,
        upload_send_peak_rss_bytes: upload_peak,
        upload_send_error: upload_error,
        attachment_limit_bytes: RSS_LIMIT_BYTES,
        bulk_rows: opts.bulk_rows,
        bulk_concurrency: opts.bulk_concurrency,
        bulk_peak_rss_bytes: bulk_peak,
        bytes_per_queued_mail: bulk_peak.saturating_sub(small_peak) / opts.bulk_rows.max(1) as u64,
        bulk_seconds: crate::util::round(bulk_seconds, 3),
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Runs the CLI in `dir` and returns its peak RSS in bytes and its wall time.
async fn run_cli(cli: &Path, dir: &Path, args: &[&str]) -> Result<(u64, f64), String> {
    let with_time = Path::new(TIME).is_file();
    let mut cmd = if with_time {
        let mut c = tokio::process::Command::new(TIME);
        c.arg("-v").arg(cli);
        c
    } else {
        tokio::process::Command::new(cli)
    };
    cmd.args(args).current_dir(dir).stdin(Stdio::null()).stdout(Stdio::piped());
    cmd.stderr(Stdio::piped()).kill_on_drop(true);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("G360_MAIL_") {
            cmd.env_remove(k);
        }
    }
    let started = std::time::Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("cannot run {}: {e}", cli.display()))?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let mut stderr = child.stderr.take().ok_or("no stderr")?;
    let pid = child.id();
    let poll = async {
        let mut peak = 0u64;
        if with_time {
            return peak;
        }
        let status = PathBuf::from(format!("/proc/{}/status", pid.unwrap_or(0)));
        while let Ok(text) = tokio::fs::read_to_string(&status).await {
            peak = peak.max(vm_hwm(&text).unwrap_or(0));
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        peak
    };
    let (mut out, mut err) = (String::new(), String::new());
    let (polled, _, _, status) = tokio::join!(
        poll,
        stdout.read_to_string(&mut out),
        stderr.read_to_string(&mut err),
        child.wait()
    );
    let seconds = started.elapsed().as_secs_f64();
    let status = status.map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("`g360-mail {}` failed ({status}):\n{out}\n{err}", args.join(" ")));
    }
    let peak = if with_time {
        max_rss_kib(&err).ok_or_else(|| format!("no maximum resident set size in: {err}"))? * 1024
    } else {
        polled
    };
    Ok((peak, seconds))
}

/// The CLI's own error line out of a failure report.
fn cli_error(report: &str) -> String {
    let lines = || report.lines().map(str::trim).filter(|l| !l.is_empty());
    lines().find(|l| l.starts_with("error:")).or_else(|| lines().next()).unwrap_or("").to_owned()
}

/// "Maximum resident set size (kbytes): N" of `time -v`.
fn max_rss_kib(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
}

/// `VmHWM:   1234 kB` of `/proc/<pid>/status`, in bytes.
fn vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_peaks() {
        let time = "\tCommand being timed: \"x\"\n\tMaximum resident set size (kbytes): 15872\n";
        assert_eq!(max_rss_kib(time), Some(15872));
        assert_eq!(vm_hwm("Name:\tx\nVmHWM:\t   2048 kB\n"), Some(2 * 1024 * 1024));
    }
}
