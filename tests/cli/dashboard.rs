//! The dashboard: who gets in (sign-in page, session cookie, signed links, CSRF) over raw HTTP,
//! and the whole operator's round in real headless Chromium driven by Selenium
//! (tests/browser/dashboard.py). The browser test fails, never skips, when Chromium, ChromeDriver
//! or the Python `selenium` package is missing: `.ci/test-deps.sh` installs them.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::Test;
use crate::support::webhook::{Reply, Server, TOKEN, config, envelope, send};

/// A header's value in a reply.
fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply.head.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
}

/// A session cookie's value from a sign-in answer.
fn cookie_of(reply: &Reply) -> String {
    let line = reply
        .head
        .lines()
        .find_map(|l| l.strip_prefix("Set-Cookie: runner_session="))
        .unwrap_or_else(|| panic!("no session cookie: {reply:#?}"));
    line.split(';').next().unwrap().to_string()
}

fn sign_in(server: &Server, token: &str) -> Reply {
    let body = format!("token={token}");
    send(
        server.addr,
        "POST",
        "/dashboard/sign-in",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )
}

fn get_with(server: &Server, path: &str, cookie: &str) -> Reply {
    server.get(path, &[("Cookie", &format!("runner_session={cookie}"))])
}

fn post_form(server: &Server, path: &str, cookie: &str, body: &str) -> Reply {
    let cookie = format!("runner_session={cookie}");
    let headers = [("Cookie", cookie.as_str()), ("Content-Type", "application/x-www-form-urlencoded")];
    send(server.addr, "POST", path, &headers, body.as_bytes())
}

/// The CSRF token a page's forms carry.
fn csrf(page: &str) -> String {
    let at = page.find("name=csrf value=").expect("a form with a CSRF token") + "name=csrf value=".len();
    page[at..].chars().take_while(char::is_ascii_hexdigit).collect()
}

#[test]
fn without_credentials_the_dashboard_is_a_sign_in_page_and_the_token_opens_a_session() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    for path in ["/dashboard", "/dashboard/patches", "/dashboard/patches/x"] {
        let reply = server.get(path, &[]).status(401);
        assert!(reply.head.contains("Content-Type: text/html"), "{path}: {reply:#?}");
        assert!(reply.body.contains("action=/dashboard/sign-in") && !reply.body.contains("\"error\""), "{reply:#?}");
    }
    assert!(sign_in(&server, "wrong").status(401).body.contains("not the one runner is configured with"));
    assert!(!t.exists(".runner/state/dashboard.key"), "no key before a successful sign-in");

    let reply = sign_in(&server, TOKEN).status(303);
    assert_eq!(header(&reply, "Location"), Some("/dashboard"));
    assert!(
        header(&reply, "Set-Cookie").unwrap().ends_with("; Path=/dashboard; Max-Age=43200; HttpOnly; SameSite=Strict"),
        "12h, HttpOnly, Strict, not Secure over http: {reply:#?}"
    );
    let cookie = cookie_of(&reply);
    let page = get_with(&server, "/dashboard", &cookie).status(200).body;
    assert!(page.contains("<table class=cards id=queues>") && page.contains("Set mode"), "{page}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(t.join(".runner/state/dashboard.key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // A cookie survives a restart of the listener, and deleting the key revokes it.
    drop(server);
    let server = Server::start(&t);
    get_with(&server, "/dashboard", &cookie).status(200);
    std::fs::remove_file(t.join(".runner/state/dashboard.key")).unwrap();
    get_with(&server, "/dashboard", &cookie).status(401);

    // The bearer token in a header still reads (scripts), but cannot act.
    let auth = format!("Bearer {TOKEN}");
    let page = server.get("/dashboard", &[("Authorization", &auth)]).status(200).body;
    assert!(!page.contains("Set mode"), "read-only: {page}");
}

#[test]
fn mutations_need_a_session_and_its_csrf_token() {
    let t = Test::new().file("runner.toml", config("session_ttl = \"1h\""));
    let server = Server::start(&t);
    let reply = sign_in(&server, TOKEN).status(303);
    assert!(reply.head.contains("Max-Age=3600;"), "server.session_ttl: {reply:#?}");
    let cookie = cookie_of(&reply);
    let token = csrf(&get_with(&server, "/dashboard", &cookie).body);

    // No session, no token, another session's token: 403, and the mode stays.
    let none = send(server.addr, "POST", "/dashboard/mode", &[], format!("mode=paused&csrf={token}").as_bytes());
    assert!(none.status(403).body.contains("Sign in first"));
    post_form(&server, "/dashboard/mode", &cookie, "mode=paused").status(403);
    let other = cookie_of(&sign_in(&server, TOKEN));
    let other_token = csrf(&get_with(&server, "/dashboard", &other).body);
    assert_ne!(other_token, token);
    post_form(&server, "/dashboard/mode", &cookie, &format!("mode=paused&csrf={other_token}")).status(403);
    t.run(["mode"]).stdout_is("auto\n");

    let reply = post_form(&server, "/dashboard/mode", &cookie, &format!("mode=paused&csrf={token}")).status(303);
    assert_eq!(header(&reply, "Location"), Some("/dashboard"));
    t.run(["mode"]).stdout_is("paused\n");
    let log = t.read(".runner/events.jsonl");
    let sid = cookie.split('.').next().unwrap();
    assert!(log.contains(&format!("\"actor\":\"web:{sid}\",\"action\":\"mode.set\"")), "{log}");

    // Approve through the page, as the CLI would.
    server.post_json("/webhook", &envelope("p-1")).status(202);
    let form = format!("env=main&csrf={token}");
    let reply = post_form(&server, "/dashboard/patches/p-1/approve", &cookie, &form).status(303);
    assert_eq!(header(&reply, "Location"), Some("/dashboard/patches/p-1?env=main&done=approve"));
    assert!(t.exists(".runner/main/patches/approved/p-1.json"));
    let again = post_form(&server, "/dashboard/patches/p-1/approve", &cookie, &form).status(409);
    assert!(again.body.contains("only pending patches can be approved"), "{again:#?}");

    // Retry a failed patch.
    t.write(".runner/main/patches/failed/f-1.json", envelope("f-1"));
    let reply = post_form(&server, "/dashboard/patches/f-1/retry", &cookie, &form).status(303);
    assert_eq!(header(&reply, "Location"), Some("/dashboard/patches/f-1?env=main&done=retry"));
    assert!(t.exists(".runner/main/patches/approved/f-1.json"));
    assert!(get_with(&server, "/dashboard/patches/f-1?env=main&done=retry", &cookie).body.contains("Queued again"));
    assert!(t.read(".runner/events.jsonl").contains(&format!("\"actor\":\"web:{sid}\",\"action\":\"patch.retried\"")));

    // Sign out clears the cookie.
    let out = post_form(&server, "/dashboard/sign-out", &cookie, &format!("csrf={token}")).status(303);
    assert!(out.head.contains("Set-Cookie: runner_session=; Path=/dashboard; Max-Age=0;"), "{out:#?}");
}

#[test]
fn public_status_keeps_pages_open_but_actions_need_a_session() {
    let t = Test::new().file("runner.toml", config("public_status = true"));
    let server = Server::start(&t);
    server.post_json("/webhook", &envelope("open-1")).status(202);
    let page = server.get("/dashboard", &[]).status(200).body;
    assert!(page.contains("<table class=cards id=queues>") && page.contains("href=/dashboard/sign-in"), "{page}");
    assert!(!page.contains("Set mode"));
    let patch = server.get("/dashboard/patches/open-1", &[]).status(200).body;
    assert!(patch.contains("<span class=add>+hi</span>") && !patch.contains("Approve"), "{patch}");
    let form = b"env=main&csrf=00";
    send(server.addr, "POST", "/dashboard/patches/open-1/approve", &[], form).status(403);
    assert!(t.exists(".runner/main/patches/pending/open-1.json"));
}

#[test]
fn dashboard_link_opens_a_session_and_a_tampered_or_expired_one_does_not() {
    let t = Test::new().file("runner.toml", config("public_url = \"https://runner.example.com/\""));
    let server = Server::start(&t);
    let url = t.run(["dashboard-link", "--ttl", "10m"]).success().stdout.trim().to_string();
    let path = url.strip_prefix("https://runner.example.com").unwrap_or_else(|| panic!("{url}"));
    assert!(path.starts_with("/dashboard/link?t="), "{url}");
    let reply = server.get(path, &[]).status(303);
    assert!(header(&reply, "Set-Cookie").unwrap().ends_with("HttpOnly; SameSite=Strict; Secure"), "{reply:#?}");
    let cookie = cookie_of(&reply);
    get_with(&server, "/dashboard", &cookie).status(200);

    let mut tampered = path.to_string();
    let last = tampered.pop().unwrap();
    tampered.push(if last == '0' { '1' } else { '0' });
    let refused = server.get(&tampered, &[]).status(401);
    assert!(refused.body.contains("invalid or has expired") && !refused.head.contains("Set-Cookie"), "{refused:#?}");
    let (expires, rest) = path.strip_prefix("/dashboard/link?t=").unwrap().split_once('.').unwrap();
    let stretched = format!("/dashboard/link?t={}.{rest}", expires.parse::<i64>().unwrap() + 3600);
    server.get(&stretched, &[]).status(401);

    let expiring = t.run(["dashboard-link", "--ttl", "1s"]).success().stdout;
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let path = expiring.trim().strip_prefix("https://runner.example.com").unwrap().to_string();
    assert!(server.get(&path, &[]).status(401).body.contains("invalid or has expired"));

    t.run(["dashboard-link", "--ttl", "0s"]).code(2).stderr_contains("--ttl must be at least 1s");
    assert!(t.read(".runner/events.jsonl").contains("\"action\":\"dashboard.link\""));
}

/// The interpreter with selenium: $RUNNER_PYTHON, else .venv/bin/python in the checkout.
fn python() -> PathBuf {
    std::env::var_os("RUNNER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"))
}

/// A port free a moment ago, so runner.toml can name the address `dashboard-link` prints.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

const DESCRIPTIONS: [&str; 7] = [
    "Fix the login redirect loop",
    "Tidy app.js imports",
    "Add a retry to the payment client",
    "Rename helper() to format_price()",
    "Bump the cache TTL to 10 minutes",
    "Log the request id on errors",
    "Remove the unused legacy CSS",
];

/// Finished patches over the last days, so the charts have something to draw.
fn history(t: &Test) {
    let outcomes = ["applied", "applied", "refused", "applied", "rolled-back", "already-applied", "applied", "error"];
    for i in 0..24u32 {
        let id = format!("hist-{i:02}");
        let outcome = outcomes[i as usize % outcomes.len()];
        let state = if matches!(outcome, "applied" | "already-applied") { "applied" } else { "failed" };
        let day = chrono::Utc::now() - chrono::Duration::days(i64::from((i * 7) % 19)) - chrono::Duration::hours(1);
        let at = day.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let result = serde_json::json!({
            "schema": 1, "id": id, "env": "main", "state": state, "outcome": outcome, "format": "json",
            "description": DESCRIPTIONS[i as usize % DESCRIPTIONS.len()], "author": "gpt",
            "started_at": at, "finished_at": at, "duration_ms": 40 + (i * 37) % 300 + (i % 5) * 60,
        });
        t.write(&format!(".runner/main/results/{id}.json"), result.to_string());
        t.write(&format!(".runner/main/patches/{state}/{id}.json"), envelope(&id));
    }
}

#[test]
fn an_operator_signs_in_reads_approves_reverts_and_links_in_a_real_browser() {
    let python = python();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let toml = format!(
        "{}\n[env.main]\ntree = \"tree\"\nrequire_approval = true\n",
        config(&format!("listen = \"127.0.0.1:{port}\""))
    );
    let t =
        Test::new().file("runner.toml", toml).file("tree/greet.py", "def greet(name):\n    return \"hello \" + name\n");
    history(&t);
    let server = Server::start_with(&t, &["serve-webhook"]);
    assert_eq!(server.addr.port(), port);
    t.run(["gen-docs"]).success();
    let fix = serde_json::json!({
        "id": "fix-greeting", "description": "Greet with a comma", "author": "gpt",
        "patch": "--- a/greet.py\n+++ b/greet.py\n@@ -1,2 +1,2 @@\n def greet(name):\n-    return \"hello \" + name\n+    return \"hello, \" + name\n",
    });
    server.post_json("/webhook", &fix.to_string()).status(202);
    let notes = serde_json::json!({
        "id": "add-notes", "description": "Add notes", "author": "gpt",
        "operations": [{ "op": "create", "path": "notes.md", "contents": "# Notes\n" }],
    });
    server.post_json("/webhook", &notes.to_string()).status(202);
    t.write(
        ".runner/state/health.json",
        r#"{"checks":{
            "webhook":{"kind":"http","healthy":true,"consecutive_failures":0,"last_change":"2026-11-30T08:00:00.000Z","last_check":"2026-12-01T10:00:00.000Z","message":"HTTP 200"},
            "public-url":{"kind":"http","healthy":true,"consecutive_failures":1,"last_change":"2026-11-30T08:00:00.000Z","last_check":"2026-12-01T10:00:00.000Z","message":"GET https://runner.example.com/health: no answer within 10s"},
            "disk":{"kind":"disk","healthy":false,"consecutive_failures":4,"last_change":"2026-12-01T09:56:00.000Z","last_check":"2026-12-01T10:00:00.000Z","message":"/srv has 812MiB free, under 1GiB"}}}"#,
    );
    t.write(
        ".runner/state/watchdog.json",
        r#"{"components":{
            "serve-webhook":{"state":"open","healthy":false,"restarts":5,"last_restart":"2026-12-01T09:58:00.000Z","message":"restart budget spent: 5 in 5m; circuit open until 10:08"},
            "health-loop":{"state":"half-open","healthy":false,"restarts":2,"last_restart":"2026-12-01T09:59:00.000Z","message":"trial restart"},
            "tunnel":{"state":"closed","healthy":true,"restarts":0,"message":"healthy"}}}"#,
    );

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/dashboard.py");
    let mut cmd = Command::new(&python);
    cmd.arg(&script)
        .args(["--runner", crate::support::BIN, "--base", &base, "--token", TOKEN])
        .arg("--dir")
        .arg(t.path())
        .arg("--shots")
        .arg(&shots)
        .current_dir(t.path())
        .env("HOME", t.path())
        .env("USER", "tester");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("RUNNER_") {
            cmd.env_remove(key);
        }
    }
    if std::env::var_os("RUNNER_BLESS").is_some() {
        cmd.arg("--bless").arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs"));
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "could not run {} ({e}): run .ci/test-deps.sh, or set RUNNER_PYTHON to a Python with selenium",
            python.display()
        )
    });
    assert!(
        out.status.success(),
        "the browser test failed (Chromium, ChromeDriver and selenium come from .ci/test-deps.sh)\nstdout:\n{}\nstderr:\n{}\nserver:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        server.stderr()
    );
    for name in ["overview-desktop", "overview-phone", "patch-waiting-desktop", "patch-waiting-phone"] {
        let png = std::fs::read(shots.join(format!("{name}.png"))).expect("a screenshot");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1000, "{name}: {} bytes", png.len());
    }
}
