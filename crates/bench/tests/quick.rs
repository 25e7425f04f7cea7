//! The bench in `--quick` mode produces every figure of the report. Speed
//! is not asserted here: figures come from `cargo xtask bench`.

use std::path::Path;

use g360_mail_bench::{Options, run};

/// The CLI binary, when a build of it is at hand (the memory scenario needs
/// it; `cargo xtask bench` always builds it first).
fn cli() -> Option<std::path::PathBuf> {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    ["release", "debug"].iter().map(|p| target.join(p).join("g360-mail")).find(|p| p.is_file())
}

#[test]
fn quick_run_reports_every_figure() {
    let mut options = Options::quick();
    options.mails = 40;
    options.large_mails = 4;
    options.read_messages = 120;
    options.read_with_bodies = 20;
    options.smtp_mails = 10;
    options.outbox_mails = 40;
    options.bulk_rows = 20;
    options.cli = cli();
    let report = run(&options).expect("the bench runs");
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();

    for key in [
        "schema",
        "mode",
        "started_at",
        "seconds",
        "machine",
        "sizes",
        "graph_send",
        "graph_read",
        "smtp",
        "outbox",
        "memory",
        "targets",
        "failures",
    ] {
        assert!(json.get(key).is_some(), "no {key} in {json:#}");
    }
    assert!(json["machine"]["cores"].as_u64().unwrap() >= 1);

    let send = &json["graph_send"];
    assert_eq!(send["passes"].as_array().unwrap().len(), 4, "{send:#}");
    for pass in send["passes"].as_array().unwrap() {
        for side in ["ours", "baseline"] {
            let s = &pass[side];
            assert_eq!(s["errors"], 0, "{pass:#}");
            for figure in ["per_second", "p50_ms", "p99_ms", "client_cpu_us_per_item"] {
                assert!(s[figure].as_f64().is_some_and(|v| v > 0.0), "{side} {figure}: {pass:#}");
            }
        }
        assert!(pass["ratio"].as_f64().unwrap() > 0.0);
        assert!(pass["ours_max_in_flight_per_mailbox"].as_u64().unwrap() <= 4, "{pass:#}");
    }
    assert_eq!(send["token_requests_ours"], 1, "{send:#}");
    assert!(send["emulator"]["raw_get_per_second"].as_f64().unwrap() > 0.0);

    let read = &json["graph_read"];
    for pass in read["passes"].as_array().unwrap() {
        assert_eq!(pass["ours"]["errors"], 0, "{pass:#}");
        assert_eq!(pass["baseline"]["errors"], 0, "{pass:#}");
        assert!(pass["ratio"].as_f64().unwrap() > 0.0);
    }
    assert!(read["raw_inline_bodies_per_second"].as_f64().unwrap() > 0.0);

    let smtp = &json["smtp"];
    assert_eq!(smtp["pooled"]["errors"], 0, "{smtp:#}");
    assert_eq!(smtp["unpooled"]["errors"], 0, "{smtp:#}");
    assert!(smtp["ratio"].as_f64().unwrap() > 0.0);

    let outbox = &json["outbox"];
    assert_eq!(outbox["measured"], true, "{outbox:#}");
    for key in ["reason", "mails", "enqueuers", "mailboxes"] {
        assert!(outbox.get(key).is_some(), "no outbox.{key} in {outbox:#}");
    }
    let check_backend = |b: &serde_json::Value| {
        assert!(b["database"].as_str().is_some_and(|d| !d.is_empty()), "{b:#}");
        for pass in ["enqueue", "enqueue_concurrent"] {
            let p = &b[pass];
            assert_eq!(p["errors"], 0, "{pass}: {b:#}");
            assert_eq!(p["items"], 40, "{pass}: {b:#}");
            for figure in ["per_second", "p50_ms", "p99_ms", "process_cpu_us_per_item"] {
                assert!(p[figure].as_f64().is_some_and(|v| v > 0.0), "{pass} {figure}: {b:#}");
            }
        }
        let d = &b["drain"];
        let queued = d["mails"].as_u64().unwrap();
        assert!(queued >= 80, "{b:#}");
        assert_eq!(d["sent"].as_u64(), Some(queued), "{b:#}");
        assert_eq!(d["sender_calls"].as_u64(), Some(queued), "{b:#}");
        assert_eq!(d["left_unsent"], 0, "{b:#}");
        assert!(d["error"].is_null(), "{b:#}");
        assert!(d["per_second"].as_f64().is_some_and(|v| v > 0.0), "{b:#}");
        for figure in ["bytes_per_queued_mail", "bytes_per_sent_mail"] {
            assert!(b[figure].as_u64().is_some_and(|v| v > 0), "{figure}: {b:#}");
        }
    };
    assert_eq!(outbox["sqlite"]["measured"], true, "{outbox:#}");
    check_backend(&outbox["sqlite"]);
    let pg = &outbox["postgres"];
    if pg["measured"] == true {
        check_backend(pg);
    } else {
        // No PostgreSQL server: reported, not a failure of the bench.
        assert!(pg["reason"].as_str().is_some_and(|r| !r.is_empty()), "{pg:#}");
        assert!(outbox["reason"].as_str().unwrap().contains("PostgreSQL"), "{outbox:#}");
    }
    let graph = &outbox["graph_drain"];
    assert_eq!(graph["drain"]["sent"], 20, "{graph:#}");
    assert_eq!(graph["drain"]["left_unsent"], 0, "{graph:#}");
    assert_eq!(graph["requests"], 20, "{graph:#}");
    assert!(graph["max_in_flight_seen"].as_u64().unwrap() <= 4, "{graph:#}");
    assert!(graph["direct_per_second"].as_f64().is_some_and(|v| v > 0.0), "{graph:#}");
    assert!(graph["ratio"].as_f64().is_some_and(|v| v > 0.0), "{graph:#}");

    if options.cli.is_some() {
        let m = &json["memory"];
        for figure in [
            "small_send_peak_rss_bytes",
            "attachment_send_peak_rss_bytes",
            "bulk_peak_rss_bytes",
            "bytes_per_queued_mail",
        ] {
            assert!(m[figure].as_u64().is_some(), "{figure}: {m:#}");
        }
        assert!(report.failures().is_empty(), "{:?}", report.failures());
    } else {
        assert!(json["memory"].is_null());
        assert!(
            report.failures().iter().all(|f| f.starts_with("memory:")),
            "{:?}",
            report.failures()
        );
    }

    let table = report.table();
    for row in [
        "Graph send",
        "Graph read",
        "SMTP",
        "Outbox, SQLite: enqueue",
        "Outbox, SQLite: drain",
        "Outbox, PostgreSQL",
        "Outbox database bytes per mail, SQLite",
        "Token requests",
        "Emulator capacity",
    ] {
        assert!(table.contains(row), "no {row} row in\n{table}");
    }
}
