//! init, status, mode, config, the audit log.

use std::process::Stdio;

use crate::support::Test;

#[test]
fn init_then_status_on_a_fresh_home() {
    let t = Test::new();
    t.run(["init"]).success().stdout_contains("runner.toml");
    for dir in ["pending", "approved", "applying", "applied", "failed", "incoming"] {
        assert!(t.exists(&format!(".runner/main/patches/{dir}")), "{dir}");
    }
    assert!(t.exists(".runner/state/locks"));
    let status = t.run(["status", "--json"]).success().json();
    assert_eq!(status["mode"], "auto");
    assert_eq!(status["envs"]["main"]["pending"], 0);
    assert_eq!(status["envs"]["main"]["tree"], t.path().canonicalize().unwrap().display().to_string());
    assert!(status["envs"]["main"]["oldest_pending_age_s"].is_null());
    assert_eq!(status["jobs"], serde_json::json!({}));
}

#[test]
fn status_counts_queues_and_the_oldest_pending_patch() {
    let t = Test::new();
    t.write(".runner/main/patches/pending/a.json", "{}");
    t.write(".runner/main/patches/approved/b.json", "{}");
    t.write(".runner/main/patches/failed/c.json", "{}");
    t.write(".runner/main/patches/pending/.runner-tmp.1.a.json", "half");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(t.join(".runner/main/patches/pending/a.json"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    let s = t.run(["status", "--json"]).success().json();
    let main = &s["envs"]["main"];
    assert_eq!(
        (main["pending"].as_u64(), main["approved"].as_u64(), main["failed"].as_u64()),
        (Some(1), Some(1), Some(1))
    );
    let age = main["oldest_pending_age_s"].as_u64().unwrap();
    assert!((3600..3700).contains(&age), "{age}");
    t.run(["status"]).success().stdout_contains("main").stdout_contains("60m");
}

#[test]
fn init_refuses_to_overwrite_a_config() {
    let t = Test::new().file("runner.toml", "# mine\n");
    t.run(["init"]).code(2).stderr_contains("already exists");
    assert_eq!(t.read("runner.toml"), "# mine\n");
}

#[test]
fn init_writes_into_a_named_directory() {
    let t = Test::new();
    t.run(["init", "ops"]).success();
    assert!(t.exists("ops/runner.toml") && t.exists("ops/.runner/main/results"));
    t.run(["--config", "ops/runner.toml", "status", "--json"]).success();
}

#[test]
fn a_broken_config_exits_2_naming_file_line_and_key() {
    let cases = [
        ("home = \".r\"\n\n[env.main]\ntree = \".\"\nvalidat = []\n", "line 5", "validat"),
        ("[env.main]\nvalidate = \"make test\"\n", "line 2", "validate"),
        ("[server]\nread_timeout = \"5 parsecs\"\n", "line 2", "invalid duration"),
        ("[env.main]\nmax_file_size = \"12 bananas\"\n", "line 2", "invalid size"),
        ("default_env = \"PROD\"\n[env.main]\n", "line 1", "default_env"),
        ("[env.a]\n[env.b]\n", "default_env", "several environments"),
        ("[[check]]\nname = \"x\"\n", "line 1", "needs one of http"),
        ("home = [\n", "line 1", "TOML parse error"),
    ];
    for (text, line, key) in cases {
        let t = Test::new().file("runner.toml", text);
        let run = t.run(["status"]).code(2);
        let err = &run.stderr;
        assert!(err.starts_with("runner: error: "), "{err}");
        assert!(err.contains("runner.toml"), "names the file: {err}");
        assert!(err.contains(line), "names {line}: {err}");
        assert!(err.contains(key), "names {key}: {err}");
    }
}

#[test]
fn help_and_version_need_no_config() {
    let t = Test::new().file("runner.toml", "this is not toml");
    t.run(["--help"]).success().stdout_contains("Exit status:").stdout_contains("75");
    t.run(["--version"]).success().stdout_contains(env!("CARGO_PKG_VERSION"));
    t.run(["status", "--help"]).success().stdout_contains("--env");
    t.run(["no-such-command"]).code(2);
}

#[test]
fn config_search_order_and_relative_paths() {
    let t = Test::new().file("etc/runner.toml", "home = \"state\"\n[env.app]\ntree = \"../app\"\n").file("app/x", "");
    let via_env = t.command(["status", "--json"]).env("RUNNER_CONFIG", "etc/runner.toml").output().unwrap();
    let s: serde_json::Value = serde_json::from_slice(&via_env.stdout).unwrap();
    assert_eq!(s["home"], t.join("etc/state").display().to_string());
    assert_eq!(s["envs"]["app"]["tree"], t.join("app").display().to_string());
    // --home wins over the file's home.
    let s = t.run(["--config", "etc/runner.toml", "--home", "elsewhere", "status", "--json"]).success().json();
    assert_eq!(s["home"], t.join("elsewhere").display().to_string());
    // No file anywhere: embedded defaults.
    let d = Test::new();
    let s = d.run(["config", "--json"]).success().json();
    assert!(s["source"].is_null());
    assert_eq!(s["default_env"], "main");
    assert_eq!(s["config"]["server"]["listen"], "127.0.0.1:5555");
    assert_eq!(s["home"], d.join(".runner").display().to_string());
}

#[test]
fn config_redacts_secrets() {
    let t =
        Test::new().file("runner.toml", "[server]\ntoken_env = \"RUNNER_TOKEN\"\nhmac_secret_file = \"secret.txt\"\n");
    t.write("secret.txt", "file-secret-value\n");
    for json in [false, true] {
        let mut args = vec!["config"];
        if json {
            args.push("--json");
        }
        let out = t.command(&args).env("RUNNER_TOKEN", "env-secret-value").output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success());
        assert!(!text.contains("env-secret-value") && !text.contains("file-secret-value"), "{text}");
        assert!(text.contains("RUNNER_TOKEN"), "{text}");
        if json {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["secrets"]["server.token"]["set"], true);
            assert_eq!(v["secrets"]["server.hmac_secret"]["set"], true);
            assert_eq!(v["secrets"]["slack.signing_secret"]["set"], false);
        }
    }
}

#[test]
fn mode_shows_sets_and_audits() {
    let t = Test::new();
    t.run(["mode"]).success().stdout_is("auto\n");
    t.run(["mode", "paused"]).success().stdout_contains("paused (was auto)");
    t.run(["mode"]).success().stdout_is("paused\n");
    assert_eq!(t.run(["mode", "--json"]).success().json()["mode"], "paused");
    t.run(["mode", "sideways"]).code(2).stderr_contains("auto");
    let events = t.read(".runner/events.jsonl");
    let last: serde_json::Value = serde_json::from_str(events.lines().last().unwrap()).unwrap();
    assert_eq!(last["action"], "mode.set");
    assert_eq!(last["actor"], "cli:tester");
    assert_eq!((last["from"].as_str(), last["to"].as_str()), (Some("auto"), Some("paused")));
    assert!(last["time"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn concurrent_appends_to_the_audit_log_lose_and_tear_nothing() {
    const PROCS: usize = 8;
    const EACH: usize = 25;
    let t = Test::new();
    let children: Vec<_> = (0..PROCS)
        .map(|p| {
            let script = (0..EACH)
                .map(|i| {
                    format!("\"{}\" mode {} -q", crate::support::BIN, if (p + i) % 2 == 0 { "paused" } else { "auto" })
                })
                .collect::<Vec<_>>()
                .join(" && ");
            let mut cmd = std::process::Command::new("sh");
            cmd.arg("-c").arg(script).current_dir(t.path()).stdout(Stdio::null());
            cmd.spawn().unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let log = t.read(".runner/events.jsonl");
    assert!(log.ends_with('\n'));
    let lines: Vec<_> = log.lines().collect();
    assert_eq!(lines.len(), PROCS * EACH, "every append is there");
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("torn line {line:?}: {e}"));
        assert_eq!(v["action"], "mode.set");
    }
}

#[test]
fn examples_runner_toml_loads() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/runner.toml");
    let t = Test::new();
    let s = t.run(["--config", path, "config", "--json"]).success().json();
    assert_eq!(s["default_env"], "MAIN");
    assert!(s["config"]["env"]["MAIN"].is_object() && s["config"]["env"]["CYOPS"].is_object());
    assert_eq!(s["config"]["env"]["CYOPS"]["require_approval"], true);
    assert!(!s["config"]["check"].as_array().unwrap().is_empty());
    assert!(!s["config"]["component"].as_array().unwrap().is_empty());
}

#[test]
fn examples_crontab_lines_are_valid_runner_commands() {
    use clap::Parser;
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/crontab")).unwrap();
    let mut jobs = 0;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        if line.split_whitespace().next().unwrap().contains('=') {
            continue; // an environment assignment
        }
        let fields: Vec<_> = line.split_whitespace().collect();
        for f in &fields[..5] {
            assert!(
                f.chars().all(|c| c.is_ascii_digit() || "*/,-".contains(c)),
                "bad schedule field {f:?} in {line:?}"
            );
        }
        assert_eq!(fields[5], "runner", "{line}");
        if let Err(e) = runner::testing::Cli::try_parse_from(&fields[5..]) {
            panic!("{line:?} is not a valid runner command: {e}");
        }
        jobs += 1;
    }
    assert!(jobs >= 6);
}

#[test]
fn status_shows_health_and_watchdog_state() {
    let t = Test::new()
        .file(
            ".runner/state/health.json",
            r#"{"checks": {"webhook": {"healthy": false, "message": "connection refused"}, "disk": {"healthy": true, "message": "41 GiB free"}}}"#,
        )
        .file(".runner/state/watchdog.json", r#"{"components": {"serve-webhook": {"state": "open", "pid": 4242, "restarts": 5}}}"#);
    let text = t.run(["status"]).success().stdout;
    let line = |needle: &str| {
        text.lines().find(|l| l.starts_with(needle)).unwrap_or_else(|| panic!("{needle} missing:\n{text}"))
    };
    assert!(line("webhook").contains("UNHEALTHY") && line("webhook").contains("connection refused"));
    assert!(line("disk").contains("healthy"));
    let wd = line("serve-webhook");
    assert!(wd.contains("open") && wd.contains("4242") && wd.ends_with('5'), "{wd}");
    let json = t.run(["status", "--json"]).success().json();
    assert_eq!(json["watchdog"]["components"]["serve-webhook"]["pid"], 4242);
}
