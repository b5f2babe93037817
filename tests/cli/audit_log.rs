//! The audit log never loses lines quietly: `runner status` reports the lines of events.jsonl
//! that are not events.

use crate::support::Test;

#[test]
fn status_reports_unparsable_audit_log_lines() {
    let t = Test::new();
    t.run(["mode", "manual"]).success();
    let s = t.run(["status", "--json"]).success().json();
    assert_eq!(s["unparsable_event_lines"], serde_json::json!([]));

    let log = t.read(".runner/events.jsonl");
    t.write(".runner/events.jsonl", format!("{log}damaged by hand\n{log}"));
    let s = t.run(["status", "--json"]).success().json();
    assert_eq!(s["unparsable_event_lines"], serde_json::json!([2]));
    t.run(["status"]).success().stdout_contains("1 line(s) of events.jsonl are not events (first: line 2)");
}
