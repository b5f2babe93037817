//! health-check: every probe kind against real processes, files and loopback servers; parallel
//! probes; fail_after; alerts on change only; the dead-man ping; the lock.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use crate::support::loopback::Server;
use crate::support::{Test, wait_until};

fn check_named<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no check {name}"))
}

#[test]
fn http_and_tcp_checks_report_a_table_json_and_the_exit_code() {
    let good = Server::ok(r#"{"status":"ok","db":{"up":true}}"#);
    let bad = Server::new(|_| (503, "down".into()));
    let t = Test::new().file(
        "runner.toml",
        format!(
            r#"
[[check]]
name = "api"
http = "{good}/health"
body_contains = "ok"
json_field = "db.up=true"

[[check]]
name = "wrong-field"
http = "{good}/health"
json_field = "status=degraded"

[[check]]
name = "backend"
http = "{bad}/"

[[check]]
name = "teapot"
http = "{bad}/"
expect_status = 503

[[check]]
name = "closed-port"
tcp = "127.0.0.1:9"
timeout = "2s"
"#,
            good = good.url,
            bad = bad.url
        ),
    );
    let table = t.run(["health-check"]).code(1);
    assert!(table.stdout.starts_with("CHECK "), "{}", table.stdout);
    let table = table.stdout_contains("HTTP 503, expected 2xx").stdout_contains("status is ok, expected degraded");
    assert!(table.stdout.lines().any(|l| l.starts_with("api ") && l.contains("healthy")), "{}", table.stdout);

    let report = t.run(["health-check", "--json"]).code(1).json();
    assert_eq!(report["healthy"], false);
    assert_eq!(check_named(&report, "api")["healthy"], true);
    assert_eq!(check_named(&report, "teapot")["healthy"], true);
    assert_eq!(check_named(&report, "backend")["healthy"], false);
    assert_eq!(check_named(&report, "wrong-field")["healthy"], false);
    let closed = check_named(&report, "closed-port");
    assert_eq!(closed["kind"], "tcp");
    assert!(closed["message"].as_str().unwrap().contains("could not connect"), "{closed}");

    // Only the named checks run, and the state file keeps every check's last verdict.
    let only = t.run(["health-check", "--json", "api", "teapot"]).success().json();
    assert_eq!(only["checks"].as_array().unwrap().len(), 2);
    let state: serde_json::Value = serde_json::from_str(&t.read(".runner/state/health.json")).unwrap();
    assert_eq!(state["checks"]["backend"]["healthy"], false);
    assert_eq!(state["checks"]["backend"]["consecutive_failures"], 2);
    assert_eq!(state["checks"]["api"]["healthy"], true);
    let status = t.run(["status", "--json"]).success().json();
    assert_eq!(status["health"]["checks"]["backend"]["healthy"], false);
    assert!(t.exists(".runner/state/heartbeats/health-check.json"));
}

#[test]
fn checks_run_in_parallel_and_a_hung_target_does_not_stall_the_others() {
    // Three targets that answer only once all three have been asked at once: probed one after
    // another, the first would wait for the others until its 10s timeout and fail.
    let barrier = Arc::new(Barrier::new(3));
    let together: Vec<Server> = (0..3)
        .map(|_| {
            let b = barrier.clone();
            Server::new(move |_| {
                b.wait();
                (200, "ok".into())
            })
        })
        .collect();
    let hung = Server::new(|_| {
        std::thread::sleep(Duration::from_secs(30));
        (200, "too late".into())
    });
    let mut config = String::new();
    for (i, s) in together.iter().enumerate() {
        config.push_str(&format!("[[check]]\nname = \"t{i}\"\nhttp = \"{}/\"\ntimeout = \"10s\"\n\n", s.url));
    }
    config.push_str(&format!("[[check]]\nname = \"hung\"\nhttp = \"{}/\"\ntimeout = \"500ms\"\n", hung.url));
    let t = Test::new().file("runner.toml", config);
    let report = t.run(["health-check", "--json"]).code(1).json();
    for i in 0..3 {
        assert_eq!(check_named(&report, &format!("t{i}"))["healthy"], true, "{report:#}");
    }
    let hung = check_named(&report, "hung");
    assert_eq!(hung["healthy"], false);
    assert!(hung["message"].as_str().unwrap().ends_with(": no answer within 500ms"), "{hung}");
}

#[test]
fn process_heartbeat_disk_queue_and_command_probes() {
    let null = std::process::Stdio::null;
    let mut live = std::process::Command::new("sleep").arg("1000").stdout(null()).stderr(null()).spawn().unwrap();
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    // Not waited for: a zombie, which has exited even though /proc still lists it.
    let zombie = || std::fs::read_to_string(format!("/proc/{}/stat", dead.id())).is_ok_and(|s| s.contains(") Z "));
    wait_until(Duration::from_secs(30), "`true` to exit and become a zombie", zombie);
    let old = chrono::Utc::now() - chrono::Duration::minutes(10);
    let t = Test::new()
        .file("live.pid", format!("{}\n", live.id()))
        .file("zombie.pid", format!("{}\n", dead.id()))
        .file("data/fresh", "")
        .file(
            ".runner/state/heartbeats/apply-patch.json",
            format!(r#"{{"job":"apply-patch","time":"{}","pid":1,"duration_ms":3}}"#, old.to_rfc3339()),
        )
        .file(".runner/main/patches/pending/a.json", "{}")
        .file(".runner/main/patches/pending/b.json", "{}")
        .file(".runner/main/patches/approved/c.json", "{}")
        .file(
            "runner.toml",
            r#"
[[check]]
name = "live"
process = "../live.pid"
process_match = "sleep"
max_rss = "1GiB"
max_cpu_percent = 90

[[check]]
name = "fat"
process = "../live.pid"
process_match = "sleep"
max_rss = "1KiB"

[[check]]
name = "stale"
process = "../live.pid"
process_match = "nginx"

[[check]]
name = "unvouched"
process = "../live.pid"

[[check]]
name = "zombie"
process = "../zombie.pid"

[[check]]
name = "no-pidfile"
process = "state/none.pid"

[[check]]
name = "apply-patch"
heartbeat = "apply-patch"

[[check]]
name = "gen-docs"
heartbeat = "gen-docs"

[[check]]
name = "file-beat"
heartbeat = "data/fresh"
max_age = "1m"

[[check]]
name = "roomy"
disk = "data"
min_free = "1MiB"

[[check]]
name = "full"
disk = "data"
min_free = "1000000GiB"

[[check]]
name = "queue-ok"
queue = "main"

[[check]]
name = "queue-long"
queue = "main"
max_pending = 2

[[check]]
name = "cmd-ok"
command = "echo all good"

[[check]]
name = "cmd-fails"
command = "echo broken >&2; exit 3"

[[check]]
name = "cmd-hangs"
command = "sleep 30"
timeout = "300ms"
"#,
        );
    let report = t.run(["health-check", "--json"]).code(1).json();
    let _ = live.kill();
    let _ = live.wait();
    let _ = dead.wait();
    let verdict = |name: &str| {
        let c = check_named(&report, name);
        (c["healthy"].as_bool().unwrap(), c["message"].as_str().unwrap().to_string())
    };
    let expect = [
        ("live", true, "resident"),
        ("fat", false, "over 1KiB"),
        ("stale", false, "does not match process_match \"nginx\""),
        ("unvouched", false, "set process_match"),
        ("zombie", false, "zombie"),
        ("no-pidfile", false, "could not read pidfile"),
        ("apply-patch", false, "last beat 10m ago, over 5m"),
        ("gen-docs", false, "job gen-docs has never run"),
        ("file-beat", true, "beat"),
        ("roomy", true, "free"),
        ("full", false, "below"),
        ("queue-ok", true, "main: 3 waiting"),
        ("queue-long", false, "more than 2"),
        ("cmd-ok", true, "exit 0: all good"),
        ("cmd-fails", false, "exit 3: broken"),
        ("cmd-hangs", false, "timed out"),
    ];
    for (name, healthy, needle) in expect {
        let (h, message) = verdict(name);
        assert_eq!(h, healthy, "{name}: {message}");
        assert!(message.contains(needle), "{name}: {message:?} lacks {needle:?}");
    }
}

#[test]
fn fail_after_and_one_alert_per_change() {
    let status = Arc::new(AtomicU16::new(500));
    let target = {
        let status = status.clone();
        Server::new(move |_| (status.load(Ordering::SeqCst), "body".into()))
    };
    let slack = Server::ok("ok");
    let t = Test::new().file("hook", format!("{}/services/T/B/X\n", slack.url)).file(
        "runner.toml",
        format!(
            "[slack]\nalert_webhook_file = \"hook\"\n\n[[check]]\nname = \"api\"\nhttp = \"{}/\"\nfail_after = 2\n",
            target.url
        ),
    );
    // First failure: not yet unhealthy.
    t.run(["health-check", "--alert"]).success().stdout_contains("failing 1");
    assert_eq!(slack.hits().len(), 0);
    // Second failure in a row: down, one alert.
    t.run(["health-check", "--alert"]).code(1).stdout_contains("posted to Slack");
    // Still down: no second alert.
    t.run(["health-check", "--alert"]).code(1);
    assert_eq!(slack.hits().len(), 1);
    status.store(200, Ordering::SeqCst);
    t.run(["health-check", "--alert"]).success();
    t.run(["health-check", "--alert"]).success();
    let hits = slack.hits();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(hits[0].method, "POST");
    assert_eq!(hits[0].path, "/services/T/B/X");
    let first: serde_json::Value = serde_json::from_str(&hits[0].body).unwrap();
    assert!(first["text"].as_str().unwrap().contains("check `api` is down: HTTP 500"), "{first}");
    assert!(hits[1].body.contains("healthy again"), "{}", hits[1].body);
    let events = t.read(".runner/events.jsonl");
    assert_eq!(events.matches("\"check.down\"").count(), 1);
    assert_eq!(events.matches("\"check.up\"").count(), 1);
}

#[test]
fn alerts_are_logged_when_slack_is_unreachable() {
    let t = Test::new().file("hook", "http://127.0.0.1:9/services/SECRET\n").file(
        "runner.toml",
        "[slack]\nalert_webhook_file = \"hook\"\n\n[[check]]\nname = \"gone\"\ntcp = \"127.0.0.1:9\"\n",
    );
    let run = t.run(["health-check", "--alert", "--json"]).code(1);
    assert_eq!(run.json()["alerts"][0]["delivery"], "logged");
    let log = t.read(".runner/alerts.log");
    let line: serde_json::Value = serde_json::from_str(log.trim()).unwrap();
    assert_eq!(line["source"], "health-check");
    assert!(line["text"].as_str().unwrap().contains("check `gone` is down"));
    assert!(line["reason"].as_str().unwrap().contains("unreachable"));
    assert!(!log.contains("SECRET") && !run.stdout.contains("SECRET") && !run.stderr.contains("SECRET"));
}

#[test]
fn dead_man_ping_reports_start_and_exit_code() {
    let ping = Server::ok("OK");
    let target = Arc::new(AtomicU16::new(200));
    let api = {
        let target = target.clone();
        Server::new(move |_| (target.load(Ordering::SeqCst), String::new()))
    };
    let t = Test::new().file("ping-url", format!("{}/ping/abc-123\n", ping.url)).file(
        "runner.toml",
        format!("[health]\nping_url_file = \"ping-url\"\n\n[[check]]\nname = \"api\"\nhttp = \"{}/\"\n", api.url),
    );
    t.run(["health-check"]).success();
    target.store(500, Ordering::SeqCst);
    t.run(["health-check"]).code(1);
    let paths: Vec<_> = ping.hits().into_iter().map(|h| h.path).collect();
    assert_eq!(paths, ["/ping/abc-123/start", "/ping/abc-123/0", "/ping/abc-123/start", "/ping/abc-123/1"]);
    // An unknown check name is an error (exit 2), and the ping says so.
    t.run(["health-check", "nope"]).code(2).stderr_contains("no check is named \"nope\"; runner.toml defines api");
    assert_eq!(ping.hits().last().unwrap().path, "/ping/abc-123/2");
}

#[test]
fn bad_configs_are_errors_that_say_where() {
    let t = Test::new().file("runner.toml", "[[check]]\nname = \"x\"\ntcp = \"a:1\"\nhttp = \"http://a/\"\n");
    t.run(["health-check"]).code(2).stderr_contains("check \"x\" sets http and tcp");
    t.write("runner.toml", "[[check]]\nname = \"q\"\nqueue = \"nowhere\"\n");
    t.run(["health-check"])
        .code(2)
        .stderr_contains("check \"q\": queue = \"nowhere\"")
        .stderr_contains("unknown environment");
    t.write("runner.toml", "[[check]]\nname = \"x\"\ntcp = \"a:1\"\nfail_afterr = 2\n");
    t.run(["health-check"]).code(2).stderr_contains("fail_afterr");
    t.write("runner.toml", "");
    t.run(["health-check"]).success().stdout_contains("no checks configured");
}

#[test]
fn a_second_run_while_one_holds_the_lock_exits_75() {
    let t = Test::new().file("runner.toml", "[[check]]\nname = \"x\"\ncommand = \"true\"\n");
    t.run(["health-check"]).success();
    let lock = std::fs::File::options().write(true).open(t.join(".runner/state/locks/health-check.lock")).unwrap();
    lock.lock().unwrap();
    t.run(["health-check"]).code(75).stderr_contains("--wait");
    drop(lock);
    t.run(["health-check"]).success();
}

#[test]
fn the_example_config_parses() {
    let t = Test::new();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/runner.toml");
    let config = t.run(["--config", example.to_str().unwrap(), "config", "--json"]).success().json();
    let components: Vec<_> =
        config["config"]["component"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(components.contains(&"serve-webhook") && components.contains(&"cloudflared"), "{components:?}");
}
