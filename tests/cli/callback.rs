//! `callback_url`: apply-patch posts a settled patch's record to an allow-listed host once,
//! and logs how it went; the webhook refuses a host that is not listed.

use serde_json::{Value, json};

use crate::support::loopback;
use crate::support::queue::*;
use crate::support::webhook::{self, Server};

fn with_callback(envelope: Value, url: &str) -> Value {
    let mut envelope = envelope;
    envelope["callback_url"] = url.into();
    envelope
}

fn callback_events(t: &crate::support::Test) -> Vec<Value> {
    events(t).into_iter().filter(|e| e["action"] == "patch.callback").collect()
}

#[test]
fn the_settled_record_is_posted_once_to_a_listed_host() {
    let hook = loopback::Server::ok("thanks");
    let t = env_test("callback_hosts = [\"127.0.0.1\"]");
    t.write("tree/a.txt", "one\n");
    queue(
        &t,
        "pending",
        &with_callback(ops("good", &[write_op("a.txt", "two\n")]), &format!("{}/done?t=1", hook.url)),
        2,
    );
    queue(
        &t,
        "pending",
        &with_callback(ops("bad", &[write_op("../escape.txt", "x\n")]), &format!("{}/done", hook.url)),
        1,
    );
    t.run(["apply-patch"]).code(1);
    let hits = hook.hits();
    assert_eq!(hits.len(), 2, "{hits:?}");
    let posted: Vec<Value> = hits.iter().map(|h| serde_json::from_str(&h.body).unwrap()).collect();
    assert_eq!(hits[0].method, "POST");
    assert_eq!(hits[0].path, "/done?t=1");
    assert_eq!((posted[0]["id"].as_str(), posted[0]["state"].as_str()), (Some("good"), Some("applied")));
    assert_eq!(posted[0]["result"]["outcome"], "applied");
    assert!(posted[0]["summary"].as_str().unwrap().contains("# Patch good: applied"));
    assert_eq!((posted[1]["id"].as_str(), posted[1]["state"].as_str()), (Some("bad"), Some("failed")));
    assert_eq!(posted[1]["result"]["outcome"], "refused");
    let logged = callback_events(&t);
    assert_eq!(logged.len(), 2);
    assert!(logged.iter().all(|e| e["status"] == 200), "{logged:?}");
    // Settled patches are not called back again.
    t.run(["apply-patch"]).success();
    assert_eq!(hook.hits().len(), 2);
}

#[test]
fn a_patch_settled_by_crash_recovery_is_called_back() {
    let hook = loopback::Server::ok("thanks");
    // The check kills apply-patch itself, leaving the patch journaled in applying/.
    let t = env_test("callback_hosts = [\"127.0.0.1\"]\nvalidate = [\"kill -9 $PPID\"]");
    t.write("tree/a.txt", "one\n");
    queue(&t, "pending", &with_callback(ops("p", &[write_op("a.txt", "two\n")]), &format!("{}/done", hook.url)), 1);
    let killed = t.command(["apply-patch"]).output().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&killed.status), Some(9));
    assert!(hook.hits().is_empty(), "called back before the patch was settled");
    t.run(["apply-patch"]).success();
    assert_eq!(t.read("tree/a.txt"), "one\n");
    let hits = hook.hits();
    assert_eq!(hits.len(), 1, "{hits:?}");
    let posted: Value = serde_json::from_str(&hits[0].body).unwrap();
    assert_eq!((posted["id"].as_str(), posted["state"].as_str()), (Some("p"), Some("failed")));
    assert_eq!(posted["result"]["outcome"], "error");
    assert!(posted["result"]["reason"].as_str().unwrap().contains("interrupted"), "{posted}");
    assert_eq!(callback_events(&t).len(), 1);
}

#[test]
fn an_unlisted_host_or_a_failing_one_is_logged_and_does_not_change_the_outcome() {
    let down = loopback::Server::new(|_| (503, "busy".into()));
    let t = env_test("callback_hosts = [\"127.0.0.1\"]");
    t.write("tree/a.txt", "one\n");
    queue(&t, "pending", &with_callback(ops("p1", &[write_op("a.txt", "two\n")]), &format!("{}/x", down.url)), 2);
    // Listed when the webhook took it, perhaps, but not now.
    queue(&t, "pending", &with_callback(ops("p2", &[write_op("b.txt", "b\n")]), "http://localhost:9/x"), 1);
    // Listed, but nothing listens there (a port just released); the URL carries a token.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let url = format!("http://{closed}/x?token=s3cret");
    queue(&t, "pending", &with_callback(ops("p3", &[write_op("c.txt", "c\n")]), &url), 0);
    t.run(["apply-patch"]).success();
    assert_eq!(t.read("tree/a.txt"), "two\n");
    assert_eq!((state_of(&t, "p1"), state_of(&t, "p2")), (Some("applied"), Some("applied")));
    assert_eq!(down.hits().len(), 1);
    let logged = callback_events(&t);
    assert_eq!(logged[0]["error"], "the callback answered HTTP 503");
    let err = logged[1]["error"].as_str().unwrap();
    assert!(err.contains("host localhost is not in this environment's callback_hosts"), "{err}");
    let err = logged[2]["error"].as_str().unwrap();
    assert!(err.starts_with("the callback failed"), "{err}");
    assert!(!err.contains("s3cret"), "the URL, which may carry a token, stays out of the log: {err}");
    assert_eq!(state_of(&t, "p3"), Some("applied"));
}

#[test]
fn the_webhook_refuses_a_callback_to_an_unlisted_host() {
    let t = crate::support::Test::new()
        .file("runner.toml", webhook::config("[env.main]\ntree = \".\"\ncallback_hosts = [\"hooks.example.com\"]"));
    let server = Server::start(&t);
    let envelope =
        json!({ "id": "c1", "callback_url": "https://evil.example.net/x", "operations": [write_op("a.txt", "a\n")] });
    let body = server.post_json("/webhook", &envelope.to_string()).status(422).json();
    assert_eq!(body["field"], "callback_url");
    assert!(body["error"].as_str().unwrap().contains("hooks.example.com"), "{body}");
    assert!(!t.exists(".runner/main/patches/pending/c1.json"));
    let envelope =
        json!({ "id": "c2", "callback_url": "https://hooks.example.com/x", "operations": [write_op("a.txt", "a\n")] });
    server.post_json("/webhook", &envelope.to_string()).status(202);
}
