//! POST /slack/commands: the v0 signature, the admin list, and each command's effect on disk.

use serde_json::Value;

use crate::support::Test;
use crate::support::webhook::{SLACK_SECRET, Server, config, envelope, now, pending, post_slack, send};

/// A slash command's form, with a `trigger_id` of its own as Slack sends (so two invocations
/// are two requests, not a replay of one).
pub(crate) fn form(command: &str, text: &str, user: &str) -> String {
    static TRIGGERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let trigger = TRIGGERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let enc = |s: &str| s.replace('%', "%25").replace('/', "%2F").replace(' ', "+").replace('&', "%26");
    format!(
        "token=x&team_id=T1&user_id={user}&user_name=someone&command={}&text={}&trigger_id={trigger}",
        enc(command),
        enc(text)
    )
}

/// Run a command as `user` and return Slack's JSON answer.
fn slack(server: &Server, command: &str, text: &str, user: &str) -> Value {
    let reply =
        post_slack(server, "/slack/commands", &form(command, text, user), now(), SLACK_SECRET).status(200).json();
    assert_eq!(reply["blocks"][0]["text"]["text"], reply["text"], "one section block with the text");
    reply
}

fn text(reply: &Value) -> &str {
    reply["text"].as_str().unwrap()
}

fn events(t: &Test) -> Vec<Value> {
    t.read(".runner/events.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn signatures_forged_stale_or_missing_are_refused() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    let body = form("/cursor-mode", "paused", "U1");
    post_slack(&server, "/slack/commands", &body, now(), "wrong secret").status(401);
    post_slack(&server, "/slack/commands", &body, now() - 301, SLACK_SECRET).status(401);
    post_slack(&server, "/slack/commands", &body, now() + 301, SLACK_SECRET).status(401);
    send(server.addr, "POST", "/slack/commands", &[], body.as_bytes()).status(401);
    assert!(!t.exists(".runner/state/mode"), "no forged command took effect");
    post_slack(&server, "/slack/commands", &body, now() - 200, SLACK_SECRET).status(200);
    assert_eq!(t.read(".runner/state/mode").trim(), "paused");
}

#[test]
fn without_a_signing_secret_slack_is_off() {
    let t = Test::new().file("runner.toml", config("").replace("signing_secret_env = \"T_SLACK\"", ""));
    let server = Server::start(&t);
    let r = post_slack(&server, "/slack/commands", &form("/help", "", "U1"), now(), SLACK_SECRET).status(503);
    assert!(r.json()["error"].as_str().unwrap().contains("slack.signing_secret"));
}

#[test]
fn mode_commands_change_the_mode_and_are_audited_with_the_user() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    let mode = || t.read(".runner/state/mode").trim().to_string();
    let reply = slack(&server, "/cursor-mode", "manual", "U1");
    assert_eq!((reply["response_type"].as_str(), mode().as_str()), (Some("in_channel"), "manual"));
    slack(&server, "/interrupt", "", "U1");
    assert_eq!(mode(), "paused");
    slack(&server, "/toggle-runner", "", "U1");
    assert_eq!(mode(), "auto");
    slack(&server, "/toggle-runner", "", "U1");
    assert_eq!(mode(), "paused");
    slack(&server, "/proceed", "", "U1");
    assert_eq!(mode(), "auto");
    assert!(text(&slack(&server, "/kill", "", "U1")).contains("/kill confirm"));
    assert_eq!(mode(), "auto");
    slack(&server, "/kill", "confirm", "U1");
    assert_eq!(mode(), "lockdown");
    assert!(text(&slack(&server, "/toggle-runner", "", "U1")).contains("lockdown"));
    server.post_json("/webhook", &envelope("after-kill")).status(503);
    slack(&server, "/runner-lock", "", "U1");
    assert!(text(&slack(&server, "/cursor-mode", "sideways", "U1")).contains("unknown mode"));
    assert_eq!(text(&slack(&server, "/cursor-mode", "", "U1")), "mode: *lockdown*");

    let log = events(&t);
    let sets: Vec<_> = log.iter().filter(|e| e["action"] == "mode.set").collect();
    assert_eq!(sets.len(), 7, "one mode.set per mode command that set one, a no-op too: {log:#?}");
    assert!(sets.iter().all(|e| e["actor"] == "slack:U1"));
    let commands: Vec<_> = log.iter().filter(|e| e["action"] == "slack.command").collect();
    assert_eq!(commands.len(), 11, "every changing command is audited, refusals included");
    assert!(commands.iter().any(|e| e["command"] == "/kill" && e["ok"] == false));
}

#[test]
fn only_admins_may_change_things_when_admins_are_set() {
    let t = Test::new().file("runner.toml", config("") + "admins = [\"UADMIN\"]\n");
    let server = Server::start(&t);
    let refused = slack(&server, "/runner-lock", "", "UOTHER");
    assert!(text(&refused).contains("slack.admins"));
    assert_eq!(refused["response_type"], "ephemeral");
    assert!(!t.exists(".runner/state/mode"));
    assert!(text(&slack(&server, "/status-runner", "", "UOTHER")).contains("mode: auto"), "reading is for everyone");
    slack(&server, "/runner-lock", "", "UADMIN");
    assert_eq!(t.read(".runner/state/mode").trim(), "lockdown");
    let log = events(&t);
    assert!(log.iter().any(|e| e["actor"] == "slack:UOTHER" && e["ok"] == false && e["error"] == "not an admin"));
}

#[test]
fn approve_and_again_move_patches_in_the_queue() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    server.post_json("/webhook", &envelope("s1")).status(202);
    server.post_json("/webhook", &envelope("s2")).status(202);
    let status = text(&slack(&server, "/patch-status", "", "U1")).to_string();
    assert!(status.contains("pending: 2") && status.contains("`s1`") && status.contains("`s2`"), "{status}");
    assert!(text(&slack(&server, "/patch-approve", "s2", "U1")).contains("`s2`"));
    assert!(t.exists(".runner/main/patches/approved/s2.json"));
    assert!(text(&slack(&server, "/patch-approve", "all", "U1")).contains("`s1`"));
    assert!(t.exists(".runner/main/patches/approved/s1.json") && !pending(&t, "s1").exists());
    assert!(text(&slack(&server, "/patch-approve", "next", "U1")).contains("no patch is pending"));
    assert!(text(&slack(&server, "/patch-approve", "s1 nowhere", "U1")).contains("unknown environment"));

    assert!(text(&slack(&server, "/again", "", "U1")).contains("no patch has failed"));
    std::fs::create_dir_all(t.join(".runner/main/patches/failed")).unwrap();
    std::fs::rename(t.join(".runner/main/patches/approved/s1.json"), t.join(".runner/main/patches/failed/s1.json"))
        .unwrap();
    assert!(text(&slack(&server, "/again", "", "U1")).contains("`s1`"));
    assert!(t.exists(".runner/main/patches/approved/s1.json"));
    let log = events(&t);
    for action in ["patch.approved", "patch.retried"] {
        assert!(log.iter().any(|e| e["action"] == action && e["actor"] == "slack:U1"), "{action}");
    }
    assert!(text(&slack(&server, "/patch-revert", "last", "U1")).contains("failed"));
}

#[test]
fn restart_requests_are_written_for_the_watchdog() {
    let component = "[[check]]\nname = \"up\"\ntcp = \"127.0.0.1:9\"\n[[component]]\nname = \"web\"\ncheck = \"up\"\nstart = [\"true\"]\n";
    let t = Test::new().file("runner.toml", config("") + component);
    let server = Server::start(&t);
    assert!(text(&slack(&server, "/restart-runner", "db", "U1")).contains("no component named `db`"));
    assert!(!t.exists(".runner/state/restart-requests/db"));
    assert!(text(&slack(&server, "/restart-runner", "web", "U1")).contains("requested"));
    let request: Value = serde_json::from_str(&t.read(".runner/state/restart-requests/web")).unwrap();
    assert_eq!(request["requested_by"], "slack:U1");
    assert!(request["time"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn watchdog_and_daemon_status_render_the_watchdog_state() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    assert!(text(&slack(&server, "/watchdog-ping", "", "U1")).contains("no watchdog run"));
    t.write(
        ".runner/state/watchdog.json",
        r#"{"components":{"serve-webhook":{"state":"healthy","restarts":2,"circuit":"closed"}}}"#,
    );
    for command in ["/watchdog-ping", "/daemon-status"] {
        let reply = slack(&server, command, "", "U1");
        assert_eq!(reply["response_type"], "ephemeral");
        let text = text(&reply);
        assert!(
            text.contains("`serve-webhook`") && text.contains("restarts 2") && text.contains("state healthy"),
            "{text}"
        );
    }
}

#[test]
fn read_only_commands_answer_from_disk() {
    let t = Test::new().file("runner.toml", config("public_url = \"https://runner.example.com/\""));
    let server = Server::start(&t);
    assert!(text(&slack(&server, "/summary-logs", "", "U1")).contains("no summaries"));
    t.write(".runner/main/summaries/old.md", "# old patch\n");
    std::thread::sleep(std::time::Duration::from_millis(20));
    t.write(".runner/main/summaries/new.md", "# new patch\napplied 1 file\n");
    let one = text(&slack(&server, "/summary-logs", "1", "U1")).to_string();
    assert!(one.contains("`new`") && one.contains("applied 1 file") && !one.contains("old patch"), "{one}");
    assert!(text(&slack(&server, "/summary-logs", "x", "U1")).contains("usage"));
    let link = slack(&server, "/dashboard", "", "U1");
    assert_eq!(link["response_type"], "ephemeral", "a link that signs in is for the caller only");
    assert!(text(&link).starts_with("Open the dashboard: https://runner.example.com/dashboard/link?t="), "{link}");
    let help = text(&slack(&server, "/help", "", "U1")).to_string();
    for command in ["/patch-approve", "/again", "/kill", "/restart-runner", "/summary-logs"] {
        assert!(help.contains(command), "{command} in {help}");
    }
    assert!(text(&slack(&server, "/nope", "", "U1")).contains("unknown command"));
    let ping = post_slack(&server, "/slack/commands", "ssl_check=1&token=x", now(), SLACK_SECRET).status(200);
    assert!(ping.body.is_empty());
    let status = text(&slack(&server, "/status-runner", "", "U1")).to_string();
    assert!(status.starts_with("```mode: auto"), "{status}");
}

#[test]
fn preview_then_revert_after_a_real_apply() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    server.post_json("/webhook", &envelope("real")).status(202);
    let preview = text(&slack(&server, "/patch-preview", "", "U1")).to_string();
    assert!(preview.contains("real") && preview.contains("+hi") && preview.contains("notes/a.txt"), "{preview}");
    assert!(!t.exists("notes/a.txt"), "a preview writes nothing");
    t.run(["apply-patch"]).success();
    assert_eq!(t.read("notes/a.txt"), "hi\n");
    let reverted = slack(&server, "/patch-revert", "last", "U1");
    assert_eq!(reverted["response_type"], "in_channel");
    assert!(text(&reverted).contains("reverted `real`"), "{reverted}");
    assert!(!t.exists("notes/a.txt"));
    assert!(events(&t).iter().any(|e| e["actor"] == "slack:U1" && e["command"] == "/patch-revert" && e["ok"] == true));
}
