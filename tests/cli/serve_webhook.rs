//! serve-webhook: the real binary on 127.0.0.1:0, driven over raw sockets so every byte and
//! status is what a client sees.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::webhook::*;
use crate::support::{Run, Test, wait_until};

#[test]
fn listens_on_port_zero_writes_pidfile_and_serves_health_and_openapi() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    assert_eq!(t.read(".runner/state/serve.pid").trim(), server.child.id().to_string());
    let health = server.get("/health", &[]).status(200).json();
    assert_eq!(health, json!({ "ok": true }));
    let api = server.get("/openapi.json", &[]).status(200).json();
    assert_eq!(api["openapi"], "3.1.0");
    assert_eq!(api["paths"]["/webhook"]["post"]["operationId"], "queuePatch");
    assert_eq!(api["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert_eq!(api["servers"][0]["url"], format!("http://{}", server.addr));
    server.get("/nowhere", &[]).status(404);
    send(server.addr, "DELETE", "/webhook", &[], b"").status(405);
}

#[test]
fn without_a_secret_it_serves_loopback_only() {
    let t = Test::new();
    t.run(["serve-webhook", "--listen", "0.0.0.0:0"]).code(2).stderr_contains("refusing to listen on 0.0.0.0");
    let mut child = t
        .command(["serve-webhook", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("listening on http://127.0.0.1:"), "{line}");
    let addr: SocketAddr = line.trim().trim_start_matches("listening on http://").parse().unwrap();
    let r = send(addr, "POST", "/webhook", &[("Content-Type", "application/json")], envelope("open-1").as_bytes());
    assert_eq!(r.status, 202, "{r:?}");
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback only"));
}

#[test]
fn bearer_token_accepted_and_wrong_or_missing_refused() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    let r = server.post_json("/webhook", &envelope("bearer-1")).status(202).json();
    assert_eq!(
        r,
        json!({ "id": "bearer-1", "env": "main", "state": "pending",
        "url": format!("http://{}/patches/bearer-1", server.addr) })
    );
    assert_eq!(std::fs::read_to_string(pending(&t, "bearer-1")).unwrap(), envelope("bearer-1"));
    let json_ct = ("Content-Type", "application/json");
    for headers in
        [vec![json_ct, ("Authorization", "Bearer wrong")], vec![json_ct, ("Authorization", TOKEN)], vec![json_ct]]
    {
        let r = send(server.addr, "POST", "/webhook", &headers, envelope("bearer-2").as_bytes()).status(401);
        assert!(r.json()["error"].is_string());
    }
    assert!(!pending(&t, "bearer-2").exists());
    let log = server.stderr();
    assert!(!log.contains(TOKEN) && !log.contains("notes/a.txt"), "the access log leaks: {log}");
}

#[test]
fn runner_signature_accepted_and_forged_stale_or_missing_refused() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    let post = |id: &str, ts: i64, sign_ts: i64, secret: &str| {
        let body = envelope(id);
        let sig = format!("v1={}", hex_hmac(secret, format!("v1:{sign_ts}:{body}").as_bytes()));
        let ts = ts.to_string();
        let headers =
            [("Content-Type", "application/json"), ("X-Runner-Timestamp", ts.as_str()), ("X-Runner-Signature", &sig)];
        send(server.addr, "POST", "/webhook", &headers, body.as_bytes())
    };
    post("sig-ok", now(), now(), HMAC_SECRET).status(202);
    post("sig-forged", now(), now(), "not the secret").status(401);
    post("sig-stale", now() - 301, now() - 301, HMAC_SECRET).status(401);
    post("sig-ts-swapped", now(), now() - 10, HMAC_SECRET).status(401);
    let body = envelope("sig-no-ts");
    let sig = format!("v1={}", hex_hmac(HMAC_SECRET, body.as_bytes()));
    send(
        server.addr,
        "POST",
        "/webhook",
        &[("Content-Type", "application/json"), ("X-Runner-Signature", &sig)],
        body.as_bytes(),
    )
    .status(401);
    assert!(pending(&t, "sig-ok").exists());
    for id in ["sig-forged", "sig-stale", "sig-ts-swapped", "sig-no-ts"] {
        assert!(!pending(&t, id).exists(), "{id}");
    }
}

#[test]
fn github_signature_accepted_once_per_delivery() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    let post = |body: &str, secret: &str, delivery: Option<&str>| {
        let sig = format!("sha256={}", hex_hmac(secret, body.as_bytes()));
        let mut headers = vec![("Content-Type", "application/json"), ("X-Hub-Signature-256", sig.as_str())];
        headers.extend(delivery.map(|d| ("X-GitHub-Delivery", d)));
        send(server.addr, "POST", "/webhook", &headers, body.as_bytes())
    };
    post(&envelope("gh-1"), HMAC_SECRET, Some("d-1")).status(202);
    let replay = post(&envelope("gh-1"), HMAC_SECRET, Some("d-1")).status(200).json();
    assert_eq!((replay["id"].as_str(), replay["state"].as_str()), (Some("gh-1"), Some("pending")));
    post(&envelope("gh-2"), "forged", Some("d-2")).status(401);
    post(&envelope("gh-3"), HMAC_SECRET, None).status(401);
    assert!(pending(&t, "gh-1").exists());
    assert!(!pending(&t, "gh-2").exists() && !pending(&t, "gh-3").exists());
    // A patch without an id is named after its body's hash, so the same body replayed under
    // another (unsigned) delivery id, after a restart too, finds the same patch.
    let anonymous = r#"{"operations":[{"op":"write","path":"a.txt","contents":"a\n"}]}"#;
    let first = post(anonymous, HMAC_SECRET, Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")).status(202).json();
    let id = first["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("sha256-") && id.len() == 39, "{first}");
    let again = post(anonymous, HMAC_SECRET, Some("another-delivery")).status(200).json();
    assert_eq!(again["id"].as_str(), Some(id.as_str()));
    drop(server);
    let server = Server::start(&t);
    let sig = format!("sha256={}", hex_hmac(HMAC_SECRET, anonymous.as_bytes()));
    let headers = [
        ("Content-Type", "application/json"),
        ("X-Hub-Signature-256", sig.as_str()),
        ("X-GitHub-Delivery", "yet-another-delivery"),
    ];
    let replay = send(server.addr, "POST", "/webhook", &headers, anonymous.as_bytes()).status(200).json();
    assert_eq!((replay["id"].as_str(), replay["state"].as_str()), (Some(id.as_str()), Some("pending")));
    assert_eq!(std::fs::read_dir(t.join(".runner/main/patches/pending")).unwrap().count(), 2);
}

#[test]
fn same_id_same_body_is_200_and_different_body_is_409() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    server.post_json("/webhook", &envelope("idem")).status(202);
    let again = server.post_json("/webhook", &envelope("idem")).status(200).json();
    assert_eq!(again["state"], "pending");
    let other = envelope("idem").replace("hi\\n", "bye\\n");
    let conflict = server.post_json("/webhook", &other).status(409).json();
    assert_eq!(conflict["field"], "id");
    assert_eq!(std::fs::read_to_string(pending(&t, "idem")).unwrap(), envelope("idem"));
}

#[test]
fn an_envelope_without_id_gets_one() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    let r = server.post_json("/webhook", r#"{"operations":[{"op":"delete","path":"x"}]}"#).status(202).json();
    let id = r["id"].as_str().unwrap();
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(pending(&t, id)).unwrap()).unwrap();
    assert_eq!(stored["id"], id);
}

#[test]
fn bad_requests_are_refused_with_the_field_and_nothing_written() {
    let t = Test::new().file("runner.toml", config("max_body_bytes = 2048\nmax_header_bytes = 1024"));
    let server = Server::start(&t);
    let auth = format!("Bearer {TOKEN}");
    let text =
        send(server.addr, "POST", "/webhook", &[("Authorization", &auth), ("Content-Type", "text/plain")], b"{}");
    assert!(text.status(415).json()["error"].as_str().unwrap().contains("application/json"));
    server.post_json("/webhook", "{not json").status(400);
    assert!(server.post_json("/webhook", "[1,2]").status(422).json()["error"].as_str().unwrap().contains("object"));
    let env = server.post_json("/webhook", r#"{"id":"e1","env":"nope","patch":""}"#).status(422).json();
    assert_eq!(env["field"], "env");
    assert!(env["error"].as_str().unwrap().contains("main"), "names the known environments: {env}");
    assert_eq!(server.post_json("/webhook", r#"{"id":"../evil","patch":""}"#).status(422).json()["field"], "id");
    assert_eq!(server.post_json("/webhook", r#"{"id":true,"patch":""}"#).status(422).json()["field"], "id");
    let big = json!({ "id": "big", "patch": "x".repeat(4096) }).to_string();
    let r = server.post_json("/webhook", &big).status(413);
    assert!(r.json()["error"].as_str().unwrap().contains("2048"));
    let long = "x".repeat(2000);
    send(server.addr, "GET", "/health", &[("X-Long", &long)], b"").status(431);
    let queue = t.join(".runner/main/patches/pending");
    let written: Vec<_> = std::fs::read_dir(&queue).map(|d| d.flatten().collect()).unwrap_or_default();
    assert!(written.is_empty(), "{written:?}");
}

#[test]
fn path_escaping_and_malformed_patches_are_refused_with_nothing_written() {
    let t = Test::new().file("runner.toml", config("")).file("src/ok.txt", "one\n");
    std::os::unix::fs::symlink("/etc", t.join("src/out")).unwrap();
    let server = Server::start(&t);
    let op = |id: &str, path: &str| {
        json!({ "id": id, "operations": [{ "op": "write", "path": path, "contents": "x" }] }).to_string()
    };
    for (id, path) in [("up", "../outside.txt"), ("abs", "/etc/passwd"), ("git", ".git/config"), ("link", "src/out/x")]
    {
        let r = server.post_json("/webhook", &op(id, path)).status(422).json();
        assert_eq!(r["field"], "operations", "{id}: {r}");
        assert!(r["error"].as_str().unwrap().contains(path), "{id} names the path: {r}");
    }
    let diff = "--- a/../../etc/hosts\n+++ b/../../etc/hosts\n@@ -1 +1 @@\n-a\n+b\n";
    let r = server.post_json("/webhook", &json!({ "id": "diff-up", "patch": diff }).to_string()).status(422).json();
    assert_eq!(r["field"], "patch", "{r}");
    let r = server.post_json("/webhook", r#"{"id":"garbage","patch":"this is not a diff"}"#).status(422).json();
    assert_eq!(r["field"], "patch", "{r}");
    let r = server.post_json("/webhook", r#"{"id":"nothing"}"#).status(422).json();
    assert!(r["error"].as_str().unwrap().contains("neither"), "{r}");
    assert!(!t.exists(".runner/main/patches/pending"), "nothing was queued");
    assert!(!t.exists("outside.txt"));
    let good = json!({ "id": "inside", "patch": "--- a/src/ok.txt\n+++ b/src/ok.txt\n@@ -1 +1 @@\n-one\n+two\n" });
    server.post_json("/webhook", &good.to_string()).status(202);
    let numeric = json!({ "id": 42, "operations": [{ "op": "write", "path": "src/n.txt", "contents": "n" }] });
    assert_eq!(server.post_json("/webhook", &numeric.to_string()).status(202).json()["id"], "42");
}

#[test]
fn lockdown_refuses_new_patches_with_503() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    t.run(["mode", "lockdown"]).success();
    let r = server.post_json("/webhook", &envelope("locked")).status(503);
    assert!(r.head.contains("Retry-After"));
    assert!(!pending(&t, "locked").exists());
    t.run(["mode", "auto"]).success();
    server.post_json("/webhook", &envelope("locked")).status(202);
}

#[test]
fn get_patch_reports_state_result_and_summary() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    let auth = format!("Bearer {TOKEN}");
    server.get("/patches/nope", &[("Authorization", &auth)]).status(404);
    server.get("/patches/done", &[]).status(401);
    server.post_json("/webhook", &envelope("done")).status(202);
    let r = server.get("/patches/done", &[("Authorization", &auth)]).status(200).json();
    assert_eq!((r["state"].as_str(), r["result"].is_null()), (Some("pending"), true));
    // What apply-patch leaves behind: the patch in failed/, its result and its summary.
    std::fs::create_dir_all(t.join(".runner/main/patches/failed")).unwrap();
    std::fs::rename(pending(&t, "done"), t.join(".runner/main/patches/failed/done.json")).unwrap();
    t.write(
        ".runner/main/results/done.json",
        json!({ "schema": 1, "id": "done", "env": "main", "state": "failed", "outcome": "refused", "format": "json",
            "started_at": "2026-11-24T01:00:00.000Z", "finished_at": "2026-11-24T01:00:01.000Z", "duration_ms": 1000,
            "files": [], "checks": [], "reason": "hunk 1 did not match" })
        .to_string(),
    );
    t.write(".runner/main/summaries/done.md", "# done\nrefused: hunk 1 did not match\n");
    let r = server.get("/patches/done?env=main", &[("Authorization", &auth)]).status(200).json();
    assert_eq!(r["state"], "failed");
    assert_eq!(r["result"]["outcome"], "refused");
    assert_eq!(r["result"]["reason"], "hunk 1 did not match");
    assert!(r["summary"].as_str().unwrap().contains("refused"));
    assert_eq!(server.get("/patches/done?env=zzz", &[("Authorization", &auth)]).status(422).json()["field"], "env");
}

#[test]
fn status_and_metrics_need_auth_unless_public() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    let auth = format!("Bearer {TOKEN}");
    for path in ["/status", "/metrics", "/dashboard"] {
        server.get(path, &[]).status(401);
    }
    server.post_json("/webhook", &envelope("m1")).status(202);
    server.post_json("/webhook", "{").status(400);
    let status = server.get("/status", &[("Authorization", &auth)]).status(200).json();
    assert_eq!((status["mode"].as_str(), status["envs"]["main"]["pending"].as_u64()), (Some("auto"), Some(1)));
    let metrics = server.get("/metrics", &[("Authorization", &auth)]).status(200).body;
    for line in [
        "runner_http_requests_total{route=\"/webhook\",status=\"202\"} 1",
        "runner_http_requests_total{route=\"/webhook\",status=\"400\"} 1",
        "runner_http_requests_total{route=\"/status\",status=\"401\"} 1",
        "runner_patches_accepted_total 1",
        "runner_patches_rejected_total 1",
        "runner_queue_depth{env=\"main\",state=\"pending\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "missing {line:?} in\n{metrics}");
    }
    drop(server);

    let t = Test::new().file("runner.toml", config("public_status = true"));
    let server = Server::start(&t);
    server.get("/status", &[]).status(200);
    server.get("/metrics", &[]).status(200);
    server.get("/patches/x", &[]).status(401);
}

#[test]
fn rate_limit_answers_429_per_client() {
    let t = Test::new().file("runner.toml", config("").replace("rate_limit = 0", "rate_limit = 3"));
    let server = Server::start(&t);
    for _ in 0..3 {
        server.get("/health", &[]).status(200);
    }
    let r = server.get("/health", &[]).status(429);
    assert!(r.head.contains("Retry-After: "), "{}", r.head);
}

#[test]
fn stalled_clients_do_not_hold_up_others() {
    // Long server timeout, two handler threads, more stalled clients than threads: the stalls
    // must not be what other requests wait on.
    let t = Test::new().file("runner.toml", config("read_timeout = \"60s\"\nthreads = 2"));
    let server = Server::start(&t);
    let mut stalled = Vec::new();
    for i in 0..6 {
        let mut s = TcpStream::connect(server.addr).unwrap();
        if i % 2 == 0 {
            s.write_all(b"POST /webhook HTTP/1.1\r\nContent-Ty").unwrap(); // half a head
        } else {
            let head = post_head(500, "") + "{\"id\":";
            s.write_all(head.as_bytes()).unwrap(); // a whole head, a tenth of the body
        }
        stalled.push(s);
    }
    std::thread::sleep(Duration::from_millis(200));
    // Each of these would time out (20 s client timeout) if a stalled client held its thread.
    for i in 0..4 {
        server.post_json("/webhook", &envelope(&format!("after-stall-{i}"))).status(202);
    }
    drop(stalled);
}

#[test]
fn a_request_that_stalls_past_the_timeout_gets_408() {
    let t = Test::new().file("runner.toml", config("read_timeout = \"1s\""));
    let server = Server::start(&t);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").unwrap();
    read_reply(&mut s).status(408);
}

#[test]
fn sigterm_finishes_the_request_in_flight_then_exits_0() {
    let t = Test::new().file("runner.toml", config(""));
    let mut server = Server::start(&t);
    let body = envelope("in-flight");
    let (first, rest) = body.split_at(10);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // A first request proves the connection is accepted and served before the signal.
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert!(read_one(&mut s).0.starts_with("HTTP/1.1 200"));
    let head = post_head(body.len(), "") + first;
    s.write_all(head.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    server.signal("-TERM");
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(rest.as_bytes()).unwrap();
    let reply = read_reply(&mut s).status(202);
    assert!(reply.head.contains("Connection: close"));
    assert_eq!(server.wait(), Some(0));
    assert!(pending(&t, "in-flight").exists());
    assert!(!t.exists(".runner/state/serve.pid"), "pidfile removed");
    let audit = t.read(".runner/events.jsonl");
    assert!(audit.lines().any(|l| l.contains("\"patch.received\"") && l.contains("\"in-flight\"")), "{audit}");
    assert!(TcpStream::connect(server.addr).is_err(), "no longer listening");
}

#[test]
fn sigkill_during_a_burst_loses_no_acknowledged_patch() {
    let t = Test::new().file("runner.toml", config("threads = 8"));
    let server = Server::start(&t);
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut clients = Vec::new();
    for c in 0..8 {
        let (acked, addr) = (acked.clone(), server.addr);
        clients.push(std::thread::spawn(move || {
            let auth = format!("Bearer {TOKEN}");
            for n in 0.. {
                let id = format!("burst-{c}-{n}");
                let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
                let Ok(mut stream) = TcpStream::connect(addr) else { return };
                let body = envelope(&id);
                let req = format!(
                    "POST /webhook HTTP/1.1\r\nHost: test\r\n{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    headers.map(|(k, v)| format!("{k}: {v}")).join("\r\n"),
                    body.len()
                );
                if stream.write_all(req.as_bytes()).is_err() {
                    return;
                }
                let mut raw = Vec::new();
                let _ = stream.read_to_end(&mut raw);
                if raw.starts_with(b"HTTP/1.1 202") {
                    acked.lock().unwrap().push(id);
                } else if raw.is_empty() {
                    return; // killed
                }
            }
        }));
    }
    wait_until(Duration::from_secs(120), "100 patches acknowledged", || acked.lock().unwrap().len() >= 100);
    server.signal("-KILL");
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap();
    let audit = t.read(".runner/events.jsonl");
    let received: std::collections::HashSet<String> = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("torn audit line {l:?}: {e}")))
        .filter(|e| e["action"] == "patch.received")
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    for id in acked.iter() {
        let stored = std::fs::read_to_string(pending(&t, id)).unwrap_or_else(|e| panic!("acked {id} lost: {e}"));
        assert_eq!(stored, envelope(id), "acked {id} is not whole");
        assert!(received.contains(id), "acked {id} has no patch.received line in the audit log");
    }
}

#[test]
fn access_log_is_one_json_line_per_request_without_bodies_or_secrets() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    server.post_json("/webhook", &envelope("logged")).status(202);
    server.get("/health?token=should-not-appear", &[]).status(200);
    let mut log = server.stderr();
    for _ in 0..100 {
        if log.lines().count() >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        log = server.stderr();
    }
    let lines: Vec<Value> = log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("{l}"))).collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert_eq!((lines[0]["method"].as_str(), lines[0]["path"].as_str()), (Some("POST"), Some("/webhook")));
    assert_eq!(lines[0]["status"], 202);
    assert_eq!(lines[1]["path"], "/health");
    for secret in [TOKEN, "should-not-appear", "notes/a.txt"] {
        assert!(!log.contains(secret), "{secret} in {log}");
    }
}

#[test]
fn keep_alive_pipelining_and_expect_continue() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // Two requests in one write: both answered, in order, on the same connection.
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let (head, body) = read_one(&mut s);
    assert!(head.starts_with("HTTP/1.1 200") && head.contains("Connection: keep-alive"), "{head}");
    assert_eq!(body, "{\"ok\":true}\n");
    assert!(read_one(&mut s).0.starts_with("HTTP/1.1 404"));
    // Expect: 100-continue gets the interim answer before the body is sent.
    let body = envelope("continued");
    let head = post_head(body.len(), "Expect: 100-continue\r\n");
    s.write_all(head.as_bytes()).unwrap();
    assert!(read_one(&mut s).0.starts_with("HTTP/1.1 100 Continue"));
    s.write_all(body.as_bytes()).unwrap();
    let (head, reply) = read_one(&mut s);
    assert!(head.starts_with("HTTP/1.1 202"), "{head}{reply}");
    assert!(pending(&t, "continued").exists());
}

#[test]
fn connections_past_the_cap_get_503_and_the_held_ones_still_work() {
    let t = Test::new().file("runner.toml", config("max_connections = 2"));
    let server = Server::start(&t);
    let mut held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(server.addr).unwrap()).collect();
    let r = server.get("/health", &[]).status(503);
    assert!(r.json()["error"].as_str().unwrap().contains("too many open connections"));
    held[0].set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    held[0].write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    read_reply(&mut held[0]).status(200);
}

#[test]
fn the_model_reads_back_what_apply_patch_made_of_its_patch() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    let auth = format!("Bearer {TOKEN}");
    server.post_json("/webhook", &envelope("round-trip")).status(202);
    t.run(["apply-patch"]).success();
    let r = server.get("/patches/round-trip", &[("Authorization", &auth)]).status(200).json();
    assert_eq!(r["state"], "applied", "{r}");
    assert_eq!(r["result"]["outcome"], "applied", "{r}");
    assert_eq!(r["result"]["files"][0]["path"], "notes/a.txt", "{r}");
    assert!(r["summary"].as_str().is_some_and(|s| s.contains("notes/a.txt")), "{r}");
    let metrics = server.get("/metrics", &[("Authorization", &auth)]).status(200).body;
    assert!(
        metrics.lines().any(|l| l.starts_with("runner_job_last_run_timestamp_seconds{job=\"apply-patch\"} ")),
        "{metrics}"
    );
    assert!(metrics.contains("runner_queue_depth{env=\"main\",state=\"applied\"} 1"), "{metrics}");
}

#[test]
fn a_body_dripped_a_byte_at_a_time_still_meets_one_deadline() {
    // Every single read is quick, so only a deadline for the whole request stops this client.
    let t = Test::new().file("runner.toml", config("read_timeout = \"1s\""));
    let server = Server::start(&t);
    let mut s = TcpStream::connect(server.addr).unwrap();
    let head = post_head(1000, "");
    s.write_all(head.as_bytes()).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut raw = Vec::new();
    for _ in 0..50 {
        if s.write_all(b" ").is_err() {
            break;
        }
        let mut buf = [0u8; 512];
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(_) => {} // nothing yet: keep dripping
        }
        if raw.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 408"), "the drip was answered {text:?} within 10 s of dripping");
}

#[test]
fn startup_errors_name_what_to_fix() {
    let t = Test::new().file("runner.toml", "[server]\ntoken_file = \"missing-token.txt\"\n");
    t.run(["serve-webhook", "--listen", "127.0.0.1:0"]).code(2).stderr_contains("server.token_file");
    assert!(!t.exists(".runner/state/serve.pid"));
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let t = Test::new().file("runner.toml", config(""));
    let out = t.command(["serve-webhook", "--listen", &addr]).env("T_TOKEN", TOKEN).output().unwrap();
    Run::from(out).code(2).stderr_contains(&format!("could not listen on {addr}"));
}

#[test]
fn a_queue_that_cannot_be_written_is_a_500_and_the_listener_carries_on() {
    let t = Test::new().file("runner.toml", config("")).file(".runner/main/patches/pending", "not a directory");
    let server = Server::start(&t);
    let r = server.post_json("/webhook", &envelope("blocked")).status(500).json();
    assert!(r["error"].as_str().unwrap().contains("pending"), "names the path: {r}");
    server.get("/health", &[]).status(200);
    std::fs::remove_file(t.join(".runner/main/patches/pending")).unwrap();
    server.post_json("/webhook", &envelope("blocked")).status(202);
}

#[test]
fn start_removes_the_temp_files_of_dead_writers_only() {
    let t = Test::new().file("runner.toml", config(""));
    let dir = ".runner/main/patches/pending";
    let dead = format!("{dir}/.runner-tmp.999999999.0.lost.json");
    let live = format!("{dir}/.runner-tmp.{}.0.busy.json", std::process::id());
    t.write(&dead, "{");
    t.write(&live, "{");
    let _server = Server::start(&t);
    assert!(!t.exists(&dead), "a dead listener's unacknowledged temp file is litter");
    assert!(t.exists(&live), "a live writer's temp file is left alone");
}
