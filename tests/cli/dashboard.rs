//! GET /dashboard in real headless Chromium: what a person would see, at a phone's width.

use std::path::Path;
use std::process::Command;

use crate::support::Test;
use crate::support::webhook::{Server, config, envelope};

/// The browser, or `None` (with a loud message) when it is absent outside CI. In CI its
/// absence fails the test: `.ci/run` installs it.
fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|bin| Command::new(bin).arg("--version").output().is_ok_and(|o| o.status.success()));
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chromium is not installed, and CI=true: .ci/run installs it"
        );
        eprintln!("\n!!! SKIPPED dashboard browser test: chromium is not installed (apt-get install chromium) !!!\n");
    }
    found
}

fn headless(browser: &str, profile: &Path, args: &[&str]) -> std::process::Output {
    let output = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("run chromium");
    assert!(output.status.success(), "chromium failed: {}", String::from_utf8_lossy(&output.stderr));
    output
}

#[test]
fn dashboard_shows_mode_queues_recent_patches_health_and_circuits() {
    let Some(browser) = chromium() else { return };
    let t = Test::new().file("runner.toml", config("public_status = true"));
    let server = Server::start(&t);
    for id in ["dash-1", "dash-2", "dash-3"] {
        server.post_json("/webhook", &envelope(id)).status(202);
    }
    std::fs::create_dir_all(t.join(".runner/main/patches/failed")).unwrap();
    std::fs::rename(
        t.join(".runner/main/patches/pending/dash-3.json"),
        t.join(".runner/main/patches/failed/dash-3.json"),
    )
    .unwrap();
    t.write(
        ".runner/main/results/dash-3.json",
        r#"{"schema":1,"id":"dash-3","env":"main","state":"failed","outcome":"rolled-back","format":"json",
            "started_at":"2026-11-24T01:00:00.000Z","finished_at":"2026-11-24T01:00:01.000Z","duration_ms":1000}"#,
    );
    t.write(".runner/state/health.json", r#"{"checks":{"webhook":{"healthy":true,"detail":"200 OK"}}}"#);
    t.write(".runner/state/watchdog.json", r#"{"components":{"serve-webhook":{"circuit":"open","restarts":5}}}"#);
    t.run(["mode", "paused"]).success();

    let profile = tempfile::tempdir().unwrap();
    let url = format!("http://{}/dashboard", server.addr);
    let dom = String::from_utf8(headless(browser, profile.path(), &["--dump-dom", &url]).stdout).unwrap();
    for seen in [
        r#"<span class="mode paused" id="mode">paused</span>"#,
        "<td>main</td><td>2</td><td>0</td><td>0</td><td>0</td><td>1</td>",
        "<td>dash-3</td><td>main</td><td>failed</td><td>rolled-back</td>",
        "<td>dash-1</td><td>main</td><td>pending</td><td>-</td>",
        "<td>webhook</td><td>detail 200 OK, healthy true</td>",
        "<td>serve-webhook</td><td>circuit open, restarts 5</td>",
        r#"<meta http-equiv="refresh" content="15">"#,
        r#"<meta name="viewport" content="width=device-width,initial-scale=1">"#,
    ] {
        assert!(dom.contains(seen), "the page lacks {seen:?}:\n{dom}");
    }
    assert!(!dom.contains("src=") && !dom.contains("href="), "no external assets:\n{dom}");

    // At a phone's size the page renders to a real image.
    let shot = t.join("phone.png");
    let arg = format!("--screenshot={}", shot.display());
    headless(browser, profile.path(), &[&arg, "--window-size=390,844", "--hide-scrollbars", &url]);
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1000, "{} bytes", png.len());
}
