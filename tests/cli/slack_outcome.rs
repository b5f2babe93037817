//! Outcomes in Slack: the Block Kit message a settled patch posts to the incoming webhook, its
//! buttons coming back signed to POST /slack/interactions, alerts.log when Slack is down, and
//! everything escaped.

use std::time::Duration;

use serde_json::{Value, json};

use crate::roundtrip::{post, write};
use crate::support::Test;
use crate::support::loopback;
use crate::support::wait_until;
use crate::support::webhook::{Reply, SLACK_SECRET, Server, now, post_slack, send};

/// A listener applying on arrival whose Slack incoming webhook is `slack`.
fn with_slack(slack: &str, extra: &str) -> Test {
    let t = Test::new().file("hook.url", format!("{slack}/hook\n")).file(
        "runner.toml",
        format!(
            "[server]\ntoken_env = \"T_TOKEN\"\nhmac_secret_env = \"T_HMAC\"\nrate_limit = 0\n\
             [slack]\nsigning_secret_env = \"T_SLACK\"\nalert_webhook_file = \"hook.url\"\nalert_timeout = \"3s\"\n{extra}\n\
             [env.main]\ntree = \"tree\"\n"
        ),
    );
    std::fs::create_dir_all(t.join("tree")).unwrap();
    t
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

fn signed(server: &Server, route: &str, body: &str) -> Reply {
    post_slack(server, route, body, now(), SLACK_SECRET)
}

/// Press a button of an outcome message, as Slack posts it.
fn press(server: &Server, user: &str, action: &str, value: &str, response_url: &str) -> Reply {
    let payload = json!({ "type": "block_actions", "user": { "id": user }, "response_url": response_url,
                          "actions": [{ "action_id": action, "value": value, "type": "button" }] });
    signed(server, "/slack/interactions", &format!("payload={}", urlencode(&payload.to_string())))
}

fn messages(slack: &loopback::Server, path: &str) -> Vec<Value> {
    slack.hits().iter().filter(|h| h.path == path).map(|h| serde_json::from_str(&h.body).unwrap()).collect()
}

#[test]
fn a_settled_patch_posts_its_outcome_and_a_signed_revert_button_reverts_it() {
    let slack = loopback::Server::ok("ok");
    let t = with_slack(&slack.url, "");
    let server = Server::start(&t);
    let body = json!({ "id": "o-1", "description": "say <hi> & bye",
                       "operations": [{ "op": "write", "path": "greet.txt", "contents": "hi\nbye\n" }] });
    post(&server, "?wait=20", &[], &body).status(200);
    wait_until(Duration::from_secs(20), "the outcome message", || !messages(&slack, "/hook").is_empty());
    let message = messages(&slack, "/hook").remove(0);
    let text = message.to_string();
    for needle in ["Patch `o-1` applied", "say &lt;hi&gt; &amp; bye", "`greet.txt` create +2 −0"] {
        assert!(text.contains(needle), "{needle:?} not in {text}");
    }
    let buttons = message["blocks"].as_array().unwrap().last().unwrap()["elements"].clone();
    assert_eq!(buttons[0]["action_id"], "revert");
    assert_eq!(buttons[1]["action_id"], "preview");
    let value = buttons[0]["value"].as_str().unwrap();

    // A forged press does nothing.
    let payload = "payload=%7Bnot+json";
    signed(&server, "/slack/interactions", payload).status(400);
    let mut forged = send(server.addr, "POST", "/slack/interactions", &[], payload.as_bytes());
    forged = forged.status(401);
    assert!(forged.json()["error"].is_string());
    assert_eq!(t.read("tree/greet.txt"), "hi\nbye\n");

    wait_until(Duration::from_secs(20), "the run's end", || server.stderr().contains("\"event\":\"apply-run\""));
    let reply = press(&server, "U7", "revert", value, &format!("{}/respond", slack.url)).status(200).json();
    assert!(reply["text"].as_str().unwrap().contains("reverted `o-1`"), "{reply}");
    assert!(!t.exists("tree/greet.txt"), "the revert removed the created file");
    wait_until(Duration::from_secs(10), "the reply at response_url", || !messages(&slack, "/respond").is_empty());
    assert!(messages(&slack, "/respond")[0]["text"].as_str().unwrap().contains("reverted `o-1`"));
    let events = t.read(".runner/events.jsonl");
    assert!(
        events
            .lines()
            .any(|l| l.contains("\"actor\":\"slack:U7\"") && l.contains("/patch-revert") && l.contains("\"ok\":true")),
        "the press is audited with the Slack user: {events}"
    );
}

#[test]
fn admins_rule_buttons_as_they_rule_slash_commands() {
    let slack = loopback::Server::ok("ok");
    let t = with_slack(&slack.url, "admins = [\"UADMIN\"]");
    let server = Server::start(&t);
    post(&server, "?wait=20", &[], &write("o-2", "x.txt", "x\n")).status(200);
    // The run that applied it has let go of the environment's lock.
    wait_until(Duration::from_secs(20), "the run's end", || server.stderr().contains("\"event\":\"apply-run\""));
    let reply = press(&server, "UOTHER", "revert", "o-2 main", "").status(200).json();
    assert!(reply["text"].as_str().unwrap().contains("only slack.admins"), "{reply}");
    assert_eq!(t.read("tree/x.txt"), "x\n");
    let reply = press(&server, "UADMIN", "revert", "o-2 main", "").status(200).json();
    assert!(!t.exists("tree/x.txt"), "{reply}");
}

#[test]
fn a_refused_patch_posts_its_reason_with_retry_and_summary_logs_shows_it() {
    let slack = loopback::Server::ok("ok");
    let t = with_slack(&slack.url, "");
    t.write("tree/app.txt", "one\ntwo\n");
    let server = Server::start(&t);
    let diff = "--- a/app.txt\n+++ b/app.txt\n@@ -1,2 +1,2 @@\n one\n-three\n+four\n";
    post(&server, "?wait=20", &[], &json!({ "id": "r-1", "patch": diff })).status(200);
    wait_until(Duration::from_secs(20), "the outcome message", || !messages(&slack, "/hook").is_empty());
    let text = messages(&slack, "/hook")[0].to_string();
    assert!(text.contains("refused") && text.contains("*Reason*") && text.contains("hunk 1"), "{text}");
    assert!(text.contains("\"action_id\":\"retry\""), "{text}");
    let preview = press(&server, "U1", "preview", "r-1 main", "").status(200).json();
    let preview = preview["text"].as_str().unwrap();
    assert!(
        preview.contains("r-1") && preview.contains("hunk 1"),
        "the preview says why it would be refused: {preview}"
    );
    let form = "command=%2Fsummary-logs&text=1&user_id=U1";
    let logs = signed(&server, "/slack/commands", form).status(200).json();
    let logs = logs["text"].as_str().unwrap();
    assert!(logs.contains("`r-1`") && logs.contains("*reason*") && logs.contains("Resend the whole patch"), "{logs}");
}

#[test]
fn an_outcome_slack_refuses_goes_to_alerts_log() {
    let slack = loopback::Server::new(|_| (500, "down".into()));
    let t = with_slack(&slack.url, "");
    let server = Server::start(&t);
    post(&server, "?wait=20", &[], &write("o-3", "y.txt", "y\n")).status(200);
    wait_until(Duration::from_secs(20), "the alerts.log line", || t.exists(".runner/alerts.log"));
    let line: Value = serde_json::from_str(t.read(".runner/alerts.log").lines().next().unwrap()).unwrap();
    assert_eq!(line["source"], "apply-patch");
    assert!(line["text"].as_str().unwrap().contains("Patch o-3 applied"), "{line}");
    assert!(line["reason"].as_str().unwrap().contains("HTTP 500"), "{line}");
}

#[test]
fn slack_answers_escape_usage_help_and_what_users_typed() {
    let slack = loopback::Server::ok("ok");
    let t = with_slack(&slack.url, "");
    let server = Server::start(&t);
    let help = signed(&server, "/slack/commands", "command=%2Fhelp&user_id=U1").status(200).json();
    let help = help["text"].as_str().unwrap();
    assert!(help.contains("&lt;id|next|all&gt;") && !help.contains("<id|next|all>"), "{help}");
    let typed = signed(&server, "/slack/commands", "command=%2Frestart-runner&text=%3C%21channel%3E&user_id=U1")
        .status(200)
        .json();
    let typed = typed["text"].as_str().unwrap();
    assert!(typed.contains("&lt;!channel&gt;") && !typed.contains("<!channel>"), "{typed}");
}

#[test]
fn in_manual_mode_slack_is_told_a_patch_waits_and_approve_applies_it() {
    let slack = loopback::Server::ok("ok");
    let t = with_slack(&slack.url, "");
    t.run(["mode", "manual"]).success();
    let server = Server::start(&t);
    post(&server, "?wait=5", &[], &write("m-1", "m.txt", "m\n")).status(202);
    wait_until(Duration::from_secs(20), "the waiting message", || !messages(&slack, "/hook").is_empty());
    let waiting = messages(&slack, "/hook").remove(0);
    assert!(waiting.to_string().contains("waits for approval"), "{waiting}");
    let value = waiting["blocks"][1]["elements"][0]["value"].as_str().unwrap().to_string();
    assert_eq!(waiting["blocks"][1]["elements"][0]["action_id"], "approve");
    press(&server, "U1", "approve", &value, "").status(200);
    wait_until(Duration::from_secs(30), "the approved patch applied", || t.exists("tree/m.txt"));
}
