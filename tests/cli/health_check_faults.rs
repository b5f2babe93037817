//! health-check under faults: many alerts with Slack slow, its own state file corrupt or a
//! directory, the dead-man ping's URL file missing.

use std::sync::{Arc, Barrier};

use crate::support::Test;
use crate::support::loopback::Server;

/// `n` checks that are down at once (nothing listens on port 9 of loopback).
fn down_checks(n: usize) -> String {
    (0..n).map(|i| format!("[[check]]\nname = \"c{i}\"\ntcp = \"127.0.0.1:9\"\n\n")).collect()
}

#[test]
fn alerts_go_out_together_not_one_after_another() {
    // Slack answers only once all four alerts are in flight at the same time: sent one after
    // another, the first would wait out its alert_timeout and be logged instead.
    let barrier = Arc::new(Barrier::new(4));
    let slack = {
        let b = barrier.clone();
        Server::new(move |_| {
            b.wait();
            (200, "ok".into())
        })
    };
    let t = Test::new().file("hook", format!("{}/hook\n", slack.url)).file(
        "runner.toml",
        format!("[slack]\nalert_webhook_file = \"hook\"\nalert_timeout = \"5s\"\n\n{}", down_checks(4)),
    );
    let report = t.run(["health-check", "--alert", "--json"]).code(1).json();
    let alerts = report["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 4, "{report}");
    for a in alerts {
        assert_eq!(a["delivery"], "posted", "{report}");
    }
    assert!(!t.exists(".runner/alerts.log"));
}

#[test]
fn a_corrupt_or_directory_state_file_does_not_resend_down_alerts() {
    let slack = Server::ok("ok");
    let t = Test::new()
        .file("hook", format!("{}/hook\n", slack.url))
        .file("runner.toml", format!("[slack]\nalert_webhook_file = \"hook\"\n\n{}", down_checks(1)));
    t.run(["health-check", "--alert"]).code(1).stdout_contains("posted to Slack");
    assert_eq!(slack.hits().len(), 1);

    t.write(".runner/state/health.json", "{not json");
    t.run(["health-check", "--alert"]).code(1).stderr_contains("moved it to");
    assert!(t.exists(".runner/state/health.json.bad"));

    std::fs::remove_file(t.join(".runner/state/health.json")).unwrap();
    std::fs::create_dir_all(t.join(".runner/state/health.json/inside")).unwrap();
    t.run(["health-check", "--alert"]).code(1).stderr_contains("it is a directory");
    assert!(t.join(".runner/state/health.json.bad.2/inside").is_dir());
    let state: serde_json::Value = serde_json::from_str(&t.read(".runner/state/health.json")).unwrap();
    assert_eq!(state["checks"]["c0"]["healthy"], false);

    let hits = slack.hits();
    assert_eq!(hits.len(), 1, "a down alert was sent again: {hits:?}");
    assert_eq!(t.read(".runner/events.jsonl").matches("\"check.down\"").count(), 1);
}

#[test]
fn a_missing_ping_url_file_still_runs_the_checks_and_alerts() {
    let slack = Server::ok("ok");
    let t = Test::new().file("hook", format!("{}/hook\n", slack.url)).file(
        "runner.toml",
        format!(
            "[health]\nping_url_file = \"no-such-file\"\n\n[slack]\nalert_webhook_file = \"hook\"\n\n{}",
            down_checks(1)
        ),
    );
    t.run(["health-check", "--alert"])
        .code(2)
        .stdout_contains("posted to Slack")
        .stderr_contains("runner: warning: could not read health.ping_url_file")
        .stderr_contains("the dead-man ping is misconfigured");
    assert_eq!(slack.hits().len(), 1);
    let state: serde_json::Value = serde_json::from_str(&t.read(".runner/state/health.json")).unwrap();
    assert_eq!(state["checks"]["c0"]["healthy"], false);
    t.write("no-such-file", "");
    t.run(["health-check"]).code(2).stderr_contains("is empty");
}
