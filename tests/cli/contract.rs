//! The command line's contract across commands: with `--json` stdout is one JSON document, errors
//! included; a refused preview still says what the patch is; each queue run beats per
//! environment; fish completes positional values; every man page passes `mandoc -T lint`.

use std::process::Command;

use serde_json::json;

use crate::support::Test;
use crate::support::queue::{env_test, ops, queue};

#[test]
fn every_command_prints_one_json_document_with_json() {
    let t = env_test("");
    let commands: &[&[&str]] = &[
        &["init", "sub"],
        &["status"],
        &["config"],
        &["mode"],
        &["mode", "manual"],
        &["approve", "next"],
        &["preview"],
        &["revert", "last"],
        &["retry", "ghost"],
        &["apply-patch"],
        &["apply-patch", "--check"],
        &["archive-summaries"],
        &["gen-docs"],
        &["health-check"],
        &["watchdog"],
        &["mode", "bogus"],
        &["no-such-command"],
    ];
    for args in commands {
        let run = t.run(args.iter().chain(&["--json"]));
        let doc = run.json();
        if run.code == 2 {
            assert_eq!(doc["exit"], 2, "{args:?}: {doc}");
            assert!(doc["error"].as_str().is_some_and(|e| !e.is_empty()), "{args:?}: {doc}");
        }
    }
}

#[test]
fn errors_are_json_documents_with_their_exit_code() {
    let t = env_test("");
    let run = t.run(["preview", "ghost", "--json"]).code(2).stderr_contains("no patch ghost in main");
    assert_eq!(run.json(), json!({ "error": "no patch ghost in main", "exit": 2 }));
    let run = t.run(["--json", "mode", "bogus"]).code(2);
    assert!(run.json()["error"].as_str().unwrap().contains("invalid value 'bogus'"), "{}", run.stdout);
    // Help is not an error, and without --json errors stay on stderr only.
    t.run(["--json", "--help"]).success().stdout_contains("Usage:");
    t.run(["preview", "ghost"]).code(2).stdout_is("");
}

#[test]
fn init_reports_what_it_wrote_as_json() {
    let t = Test::new();
    let doc = t.run(["init", "--json"]).success().json();
    let root = t.path().canonicalize().unwrap();
    assert_eq!(doc["config"], root.join("runner.toml").display().to_string());
    assert_eq!(doc["home"], root.join(".runner").display().to_string());
    let again = t.run(["init", "--json"]).code(2).json();
    assert!(again["error"].as_str().unwrap().contains("already exists"), "{again}");
}

#[test]
fn a_refused_preview_keeps_what_the_patch_says_it_is() {
    let t = env_test("");
    let mut patch = ops("p1", &[json!({"op": "replace", "path": "a.txt", "search": "zzz", "replace": "y"})]);
    patch["author"] = json!("gpt");
    t.write("tree/a.txt", "a\n");
    queue(&t, "pending", &patch, 0);
    let doc = t.run(["preview", "--json"]).code(1).json();
    assert!(doc["refusal"].is_string(), "{doc}");
    assert_eq!(doc["format"], "json");
    assert_eq!(doc["description"], "test patch p1");
    assert_eq!(doc["author"], "gpt");
}

#[test]
fn each_queue_run_beats_for_its_environment() {
    let t = Test::new()
        .file("runner.toml", "default_env = \"main\"\n[env.main]\ntree = \"a\"\n[env.staging]\ntree = \"b\"\n")
        .file("a/.keep", "")
        .file("b/.keep", "");
    t.run(["apply-patch", "--env", "staging"]).success();
    let jobs = t.run(["status", "--json"]).success().json()["jobs"].clone();
    assert!(jobs["apply-patch.staging"].is_object(), "{jobs}");
    assert!(jobs["apply-patch.main"].is_null(), "{jobs}");
    t.run(["apply-patch"]).success();
    let jobs = t.run(["status", "--json"]).success().json()["jobs"].clone();
    assert!(jobs["apply-patch.main"].is_object() && jobs["apply-patch"].is_object(), "{jobs}");
}

/// A tool these tests need; its absence fails them with how to install it.
fn tool(name: &str) -> Command {
    let found = Command::new("sh").args(["-c", &format!("command -v {name}")]).output().unwrap();
    assert!(found.status.success(), "{name} is not installed: run .ci/test-deps.sh (apt-get install {name})");
    Command::new(name)
}

#[test]
fn fish_completes_modes_and_help_topics_not_files() {
    let root = env!("CARGO_MANIFEST_DIR");
    let t = Test::new().file("a-file-fish-must-not-offer", "");
    let complete = |line: &str| {
        let script = format!("source {root}/completions/runner.fish; complete -C'{line}'");
        let out = tool("fish").args(["--no-config", "-c", &script]).current_dir(t.path()).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let modes = complete("runner mode ");
    let names: Vec<_> = modes.lines().map(|l| l.split('\t').next().unwrap()).collect();
    assert_eq!(names, ["auto", "lockdown", "manual", "paused"], "{modes}");
    let topics = complete("runner help ");
    assert!(topics.lines().any(|l| l.starts_with("status\t")), "{topics}");
    assert!(!topics.contains("a-file-fish-must-not-offer"), "{topics}");
}

#[test]
fn man_pages_pass_mandoc_lint() {
    let man = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let mut pages: Vec<_> = std::fs::read_dir(&man).unwrap().map(|e| e.unwrap().path()).collect();
    pages.sort();
    assert!(pages.len() > 10, "{pages:?}");
    let out = tool("mandoc").args(["-T", "lint", "-W", "style"]).args(&pages).output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && report.is_empty(), "mandoc -T lint:\n{report}");
}

#[test]
fn serve_webhook_announces_its_address_as_json() {
    use std::io::BufRead;
    let t = Test::new();
    let mut child = t
        .command(["serve-webhook", "--listen", "127.0.0.1:0", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        for line in stdout.lines().map_while(Result::ok) {
            text.push_str(&line);
            if line == "}" {
                break;
            }
        }
        let _ = send.send(text);
    });
    let text = receive.recv_timeout(std::time::Duration::from_secs(60)).expect("serve-webhook printed its address");
    let _ = child.kill();
    let _ = child.wait();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert!(doc["listening"].as_str().unwrap().starts_with("http://127.0.0.1:"), "{doc}");
    assert_eq!(doc["pid"], child.id());
}
