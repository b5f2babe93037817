//! The model's round trip through the real listener: applied on arrival, a verdict in the same
//! call (`?wait=`, `Prefer: wait=`), refusals that say what to fix, answers under 100,000
//! characters.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::webhook::{Server, TOKEN, send};
use crate::support::{Test, wait_until};

/// A listener config that applies on arrival, env `main` on `tree/`, plus `server` and `env` lines.
pub(crate) fn applying(server: &str, env: &str) -> Test {
    let t = Test::new().file(
        "runner.toml",
        format!(
            "[server]\ntoken_env = \"T_TOKEN\"\nhmac_secret_env = \"T_HMAC\"\nrate_limit = 0\n{server}\n\
             [slack]\nsigning_secret_env = \"T_SLACK\"\n\
             [env.main]\ntree = \"tree\"\n{env}\n"
        ),
    );
    std::fs::create_dir_all(t.join("tree")).unwrap();
    t
}

pub(crate) fn post(
    server: &Server,
    query: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> crate::support::webhook::Reply {
    let auth = format!("Bearer {TOKEN}");
    let mut all = vec![("Authorization", auth.as_str()), ("Content-Type", "application/json")];
    all.extend_from_slice(headers);
    send(server.addr, "POST", &format!("/webhook{query}"), &all, body.to_string().as_bytes())
}

pub(crate) fn write(id: &str, path: &str, contents: &str) -> Value {
    json!({ "id": id, "description": format!("write {path}"),
            "operations": [{ "op": "write", "path": path, "contents": contents }] })
}

fn state_dir(t: &Test, state: &str, id: &str) -> bool {
    t.exists(&format!(".runner/main/patches/{state}/{id}.json"))
}

fn auth() -> String {
    format!("Bearer {TOKEN}")
}

#[test]
fn a_post_with_wait_is_answered_with_the_applied_result_and_the_file_is_in_the_tree() {
    let t = applying("", "");
    let server = Server::start(&t);
    let r = post(&server, "?wait=20", &[], &write("w-1", "src/hello.txt", "hello\n")).status(200).json();
    assert_eq!((r["id"].as_str(), r["state"].as_str()), (Some("w-1"), Some("applied")), "{r}");
    assert_eq!(r["result"]["outcome"], "applied");
    assert_eq!(r["result"]["files"][0]["path"], "src/hello.txt");
    assert!(r["summary"].as_str().unwrap().contains("# Patch w-1: applied"), "{r}");
    assert_eq!(r["url"], format!("http://{}/patches/w-1", server.addr));
    assert_eq!(t.read("tree/src/hello.txt"), "hello\n");
    // The same body as GET /patches/{id}.
    let got = server.get("/patches/w-1", &[("Authorization", &auth())]).status(200).json();
    assert_eq!(got, r);
    // The same id again, with wait: the existing patch's verdict.
    let again = post(&server, "?wait=5", &[], &write("w-1", "src/hello.txt", "hello\n")).status(200).json();
    assert_eq!(again, r);
    // Prefer: wait=N does the same and says it was applied.
    let p = post(&server, "", &[("Prefer", "respond-async, wait=15")], &write("w-2", "b.txt", "b\n")).status(200);
    assert!(p.head.contains("Preference-Applied: wait=15"), "{}", p.head);
    assert_eq!(p.json()["result"]["outcome"], "applied");
}

#[test]
fn a_wait_outside_max_wait_is_refused_and_nothing_is_queued() {
    let t = applying("max_wait = \"10s\"", "");
    let server = Server::start(&t);
    for bad in ["?wait=11", "?wait=-1", "?wait=soon"] {
        let r = post(&server, bad, &[], &write("bad-wait", "x.txt", "x\n")).status(400).json();
        assert_eq!(r["field"], "wait", "{bad}: {r}");
        assert!(r["error"].as_str().unwrap().contains("0 to 10"), "{r}");
    }
    assert!(!state_dir(&t, "pending", "bad-wait") && !t.exists("tree/x.txt"));
    // A preference is capped, not refused.
    let r = post(&server, "", &[("Prefer", "wait=600")], &write("capped", "x.txt", "x\n")).status(200);
    assert!(r.head.contains("Preference-Applied: wait=10"), "{}", r.head);
}

#[test]
fn a_refused_patch_is_answered_with_its_reason_the_closest_lines_and_what_to_resend() {
    let t = applying("", "");
    t.write("tree/app.py", "def main():\n    print('hello')\n    return 0\n");
    let server = Server::start(&t);
    let diff = "--- a/app.py\n+++ b/app.py\n@@ -1,3 +1,3 @@\n def main():\n-    print('helo')\n+    print('hi')\n     return 0\n";
    let body = json!({ "id": "r-1", "patch": diff });
    let r = post(&server, "?wait=20", &[], &body).status(200).json();
    assert_eq!((r["state"].as_str(), r["result"]["outcome"].as_str()), (Some("failed"), Some("refused")), "{r}");
    let reason = r["result"]["reason"].as_str().unwrap();
    for needle in ["app.py", "hunk 1", "line 2 reads", "    print('hello')", "2 |", "Resend"] {
        assert!(reason.contains(needle), "{needle:?} missing from the reason: {reason}");
    }
    assert_eq!(t.read("tree/app.py"), "def main():\n    print('hello')\n    return 0\n");
}

#[test]
fn a_post_without_wait_is_applied_within_seconds_with_no_apply_patch_run_by_hand() {
    let t = applying("", "");
    let server = Server::start(&t);
    let r = post(&server, "", &[], &write("a-1", "arrived.txt", "yes\n")).status(202).json();
    assert_eq!(r["state"], "pending");
    wait_until(Duration::from_secs(30), "the patch applied on arrival", || t.exists("tree/arrived.txt"));
    wait_until(Duration::from_secs(10), "its result", || state_dir(&t, "applied", "a-1"));
    assert_eq!(t.read("tree/arrived.txt"), "yes\n");
    wait_until(Duration::from_secs(10), "the run's log line", || server.stderr().contains("\"event\":\"apply-run\""));
}

#[test]
fn with_apply_on_receive_off_the_patch_waits_for_cron() {
    let t = applying("apply_on_receive = false", "");
    let server = Server::start(&t);
    let r = post(&server, "?wait=1", &[], &write("off-1", "x.txt", "x\n")).status(202).json();
    assert_eq!(r["state"], "pending");
    assert!(state_dir(&t, "pending", "off-1") && !t.exists("tree/x.txt"));
    assert!(!server.stderr().contains("apply-run"));
}

#[test]
fn manual_mode_answers_202_at_once_and_applies_after_approve() {
    let t = applying("", "");
    t.run(["mode", "manual"]).success();
    let server = Server::start(&t);
    let started = Instant::now();
    let r = post(&server, "?wait=25", &[], &write("m-1", "m.txt", "m\n")).status(202).json();
    assert!(started.elapsed() < Duration::from_secs(25), "a patch waiting for approval is not held");
    assert_eq!(r["state"], "pending");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!t.exists("tree/m.txt") && state_dir(&t, "pending", "m-1"), "nothing is applied on arrival in manual");
    t.run(["approve", "m-1"]).success();
    t.run(["apply-patch"]).success();
    assert_eq!(t.read("tree/m.txt"), "m\n");
    let got = server.get("/patches/m-1", &[("Authorization", &auth())]).status(200).json();
    assert_eq!(got["result"]["outcome"], "applied");
}

#[test]
fn paused_and_require_approval_apply_nothing_on_arrival() {
    let t = applying("", "require_approval = true");
    let server = Server::start(&t);
    post(&server, "?wait=5", &[], &write("ra-1", "a.txt", "a\n")).status(202);
    t.run(["mode", "paused"]).success();
    post(&server, "?wait=5", &[], &write("pa-1", "b.txt", "b\n")).status(202);
    std::thread::sleep(Duration::from_millis(300));
    assert!(state_dir(&t, "pending", "ra-1") && state_dir(&t, "pending", "pa-1"));
    assert!(!server.stderr().contains("apply-run"), "{}", server.stderr());
}

#[test]
fn two_hundred_posts_at_once_are_applied_by_a_few_runs_and_none_twice() {
    let t = applying("threads = 32", "");
    let server = Server::start(&t);
    let addr = server.addr;
    let posters: Vec<_> = (0..8)
        .map(|k| {
            std::thread::spawn(move || {
                for i in 0..25 {
                    let id = format!("b-{k}-{i}");
                    let body = write(&id, &format!("burst/{id}.txt"), &format!("{id}\n"));
                    let auth = format!("Bearer {TOKEN}");
                    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
                    let r = send(addr, "POST", "/webhook", &headers, body.to_string().as_bytes());
                    assert_eq!(r.status, 202, "{r:?}");
                }
            })
        })
        .collect();
    for p in posters {
        p.join().unwrap();
    }
    let applied_events = || {
        std::fs::read_to_string(t.join(".runner/events.jsonl"))
            .map_or(0, |e| e.lines().filter(|l| l.contains("\"patch.applied\"")).count())
    };
    wait_until(Duration::from_secs(120), "all 200 applied", || applied_events() >= 200);
    // Every run the burst asked for has ended: nothing pending, and no run started after.
    wait_until(Duration::from_secs(30), "the runs to end", || {
        std::fs::read_dir(t.join(".runner/main/patches/pending")).map_or(0, |d| d.count()) == 0
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(applied_events(), 200, "each patch applied exactly once");
    assert_eq!(std::fs::read_dir(t.join(".runner/main/patches/applied")).unwrap().count(), 200);
    for k in 0..8 {
        for i in 0..25 {
            assert_eq!(t.read(&format!("tree/burst/b-{k}-{i}.txt")), format!("b-{k}-{i}\n"));
        }
    }
    assert_eq!(zombies_of(server.child.id()), 0, "every apply run was waited for");
    let runs = server.stderr().matches("\"event\":\"apply-run\"").count();
    assert!(runs < 50, "200 posts caused {runs} runs: they are not coalesced");
    assert!(!server.stderr().contains("\"error\""), "{}", server.stderr());
}

#[test]
fn an_answer_stays_under_100000_characters_with_a_megabyte_of_check_output() {
    let t = applying(
        "",
        "validate = [\"head -c 1048576 /dev/zero | tr '\\\\0' x; echo; echo THE-END\", \"head -c 1048576 /dev/zero | tr '\\\\0' y; exit 3\"]\noutput_limit = \"2MiB\"",
    );
    let server = Server::start(&t);
    let r = post(&server, "?wait=30", &[], &write("big-1", "big.txt", "b\n")).status(200);
    assert!(r.body.chars().count() < 100_000, "{} characters", r.body.chars().count());
    let v = r.json();
    assert_eq!(v["result"]["outcome"], "rolled-back", "{v:.300}");
    let first = v["result"]["checks"][0]["output"].as_str().unwrap();
    assert!(first.starts_with("xxxx") && first.trim_end().ends_with("THE-END"), "head and tail are kept");
    assert!(first.contains("characters cut here") && first.contains("/patches/big-1?full=1"), "the cut is marked");
    assert!(v["result"]["reason"].as_str().unwrap().contains("exit 3"));
    let get = server.get("/patches/big-1", &[("Authorization", &auth())]).status(200);
    assert!(get.body.chars().count() < 100_000);
    let full = server.get("/patches/big-1?full=1", &[("Authorization", &auth())]).status(200).json();
    assert_eq!(full["result"]["checks"][1]["output"].as_str().unwrap().len(), 1 << 20);
}

/// Children of `pid` that exited and were never waited for (state `Z` in /proc).
fn zombies_of(pid: u32) -> usize {
    let Ok(procs) = std::fs::read_dir("/proc") else { panic!("no /proc to look for zombies in") };
    procs
        .flatten()
        .filter_map(|p| std::fs::read_to_string(p.path().join("stat")).ok())
        .filter(|stat| {
            // `pid (comm) state ppid …`: comm may hold spaces, so read after the last `)`.
            let rest: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, r)| r).split_whitespace().collect();
            rest.first() == Some(&"Z") && rest.get(1) == Some(&pid.to_string().as_str())
        })
        .count()
}

#[test]
fn intake_takes_what_the_openapi_document_says_and_nothing_else() {
    let t = applying("apply_on_receive = false", "");
    let server = Server::start(&t);
    let mut typo = write("typo", "a.txt", "a\n");
    typo["descripton"] = json!("misspelt");
    let r = post(&server, "", &[], &typo).status(422).json();
    assert_eq!(r["field"], "descripton", "{r}");
    // A whole number id, however spelt, is stored as its text; a fraction or a negative is refused.
    let mut seven = write("x", "a.txt", "a\n");
    seven["id"] = json!(7.0);
    assert_eq!(post(&server, "", &[], &seven).status(202).json()["id"], "7");
    seven["id"] = json!(7);
    assert_eq!(post(&server, "", &[], &seven).status(200).json()["id"], "7", "the same patch");
    let stored: Value = serde_json::from_str(&t.read(".runner/main/patches/pending/7.json")).unwrap();
    assert_eq!(stored["id"], "7");
    for bad in [json!(7.5), json!(-1)] {
        let mut b = write("x", "a.txt", "a\n");
        b["id"] = bad;
        assert_eq!(post(&server, "", &[], &b).status(422).json()["field"], "id");
    }
    // A count of 2.0 is the integer 2.
    let body = json!({ "id": "c2", "operations": [{ "op": "replace", "path": "a.txt", "search": "a", "replace": "b", "count": 2.0 }] });
    post(&server, "", &[], &body).status(202);
    // The document is built from this config and declares the wait parameter and every status.
    let api = server.get("/openapi.json", &[]).status(200).json();
    let op = &api["paths"]["/webhook"]["post"];
    assert_eq!(op["parameters"][0]["name"], "wait");
    assert_eq!(op["parameters"][0]["schema"]["maximum"], 30);
    for status in ["200", "202", "400", "401", "409", "413", "415", "422", "429", "503"] {
        assert!(op["responses"][status].is_object(), "{status} is declared");
    }
    assert_eq!(api["components"]["schemas"]["Envelope"]["oneOf"].as_array().unwrap().len(), 2);
    let r = send(server.addr, "DELETE", "/webhook", &[], b"").status(405);
    assert!(r.head.contains("Allow: POST"), "{}", r.head);
    let r = server.get("/patches/7?full=yes", &[("Authorization", &auth())]).status(400);
    assert_eq!(r.json()["field"], "full");
}

#[test]
fn a_run_that_finds_the_lock_held_applies_the_patch_once_it_is_released() {
    let t = applying("", "");
    let server = Server::start(&t);
    // Hold the environment's lock as a cron run would.
    std::fs::create_dir_all(t.join(".runner/state/locks")).unwrap();
    let lock = std::fs::File::create(t.join(".runner/state/locks/apply-patch.main.lock")).unwrap();
    lock.lock().unwrap();
    let r = post(&server, "?wait=1", &[], &write("l-1", "locked.txt", "l\n")).status(202).json();
    assert_eq!(r["state"], "pending");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!t.exists("tree/locked.txt"), "nothing is applied while the lock is held");
    drop(lock);
    wait_until(Duration::from_secs(30), "the patch applied after the lock was released", || {
        t.exists("tree/locked.txt")
    });
    assert!(!server.stderr().contains("\"error\""), "{}", server.stderr());
}
