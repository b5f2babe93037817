//! `revert` may only restore inside the tree: an id that is not a patch id (an absolute path, a
//! `../` walk to a fake result and backup planted in the tree) is refused from the command line
//! and from Slack, and a backup manifest naming a path outside the fence is refused before
//! anything is restored.

use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::Test;
use crate::support::queue::*;
use crate::support::webhook::{SLACK_SECRET, Server, config, envelope, now, post_slack};

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// What a hostile patch could have written into the tree: `<dir>/fake.json`, a result claiming
/// an applied patch, and `<dir>/fake/`, a backup whose manifest "restores" `victim`. The
/// result's id is the `../` walk from `results/` to `<dir>/fake`, which leads from `backups/` to
/// the fake backup too.
fn plant_fake_backup(dir: &Path, fake_id: &str, victim: &Path) {
    let result = json!({
        "schema": 1, "id": fake_id, "env": "main", "state": "applied", "outcome": "applied",
        "format": "json", "started_at": "2026-11-24T10:00:00.000Z",
        "finished_at": "2026-11-24T10:00:00.001Z", "duration_ms": 1, "files": []
    });
    std::fs::write(dir.join("fake.json"), result.to_string()).unwrap();
    std::fs::create_dir_all(dir.join("fake")).unwrap();
    std::fs::write(dir.join("fake/0"), "attacker bytes\n").unwrap();
    let manifest = json!({"key": fake_id, "files": [{
        "path": victim.to_str().unwrap(), "existed": true, "mode": 0o644,
        "sha256_before": sha256(b"attacker bytes\n"), "blob": "0"
    }]});
    std::fs::write(dir.join("fake/manifest.json"), manifest.to_string()).unwrap();
}

#[test]
fn an_id_that_is_a_path_is_refused_and_nothing_outside_is_written() {
    let t = env_test("");
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.txt");
    queue(&t, "pending", &ops("p0", &[write_op("a.txt", "a\n")]), 0);
    t.run(["apply-patch"]).success(); // a store that has results/ and backups/ to walk up from
    plant_fake_backup(&t.join("tree"), "../../../tree/fake", &victim);
    let absolute = t.join("tree/fake").canonicalize().unwrap();
    for target in [absolute.to_str().unwrap(), "../../../tree/fake"] {
        t.run(["revert", target]).code(2).stderr_contains(&format!("invalid patch id {target:?}"));
        assert!(!victim.exists(), "revert {target} wrote outside the tree");
    }
    assert!(!t.exists(".runner/events.jsonl") || !t.read(".runner/events.jsonl").contains("patch.reverted"));
}

fn slack_revert(server: &Server, text: &str) -> Value {
    let enc = |s: &str| s.replace('%', "%25").replace('/', "%2F").replace(' ', "+").replace('&', "%26");
    let body = format!("token=x&team_id=T1&user_id=U1&user_name=u&command=%2Fpatch-revert&text={}", enc(text));
    post_slack(server, "/slack/commands", &body, now(), SLACK_SECRET).status(200).json()
}

#[test]
fn a_signed_slack_revert_of_a_path_is_refused() {
    let t = Test::new().file("runner.toml", config(""));
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.txt");
    plant_fake_backup(t.path(), "../../../fake", &victim);
    let server = Server::start(&t);
    server.post_json("/webhook", &envelope("p0")).status(202);
    t.run(["apply-patch"]).success(); // a store that has results/ and backups/ to walk up from
    let absolute = t.join("fake").canonicalize().unwrap();
    for target in [absolute.to_str().unwrap(), "../../../fake"] {
        let reply = slack_revert(&server, target);
        let text = reply["text"].as_str().unwrap();
        assert!(text.contains(&format!("invalid patch id {target:?}")), "{text}");
        assert!(!victim.exists(), "/patch-revert {target} wrote outside the tree");
    }
}

/// Apply a real patch, then rewrite its backup manifest so its one file is `path`.
fn tamper(t: &Test, path: &str) {
    let file = ".runner/main/backups/p1/manifest.json";
    let mut manifest: Value = serde_json::from_str(&t.read(file)).unwrap();
    manifest["files"][0]["path"] = json!(path);
    t.write(file, manifest.to_string());
}

#[test]
fn a_tampered_manifest_naming_a_path_outside_the_fence_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.txt");
    // Enough `..` to reach `/` from any tree, then down to the victim.
    let relative = format!("{}{}", "../".repeat(32), outside.path().strip_prefix("/").unwrap().display());
    for path in [victim.to_str().unwrap().to_string(), format!("{relative}/victim.txt"), ".git/hooks/pre-commit".into()]
    {
        let t = env_test("");
        t.write("tree/a.txt", "a1\n");
        queue(&t, "pending", &ops("p1", &[write_op("a.txt", "a2\n")]), 0);
        t.run(["apply-patch"]).success();
        tamper(&t, &path);
        let before = snapshot(&t.join("tree"));
        t.run(["revert", "p1", "--force"])
            .code(2)
            .stderr_contains("could not revert p1: its backup manifest names a path the fence refuses");
        assert!(!victim.exists(), "a manifest naming {path} wrote outside the tree");
        assert_eq!(snapshot(&t.join("tree")), before, "nothing restored for {path}");
        assert!(result(&t, "p1").get("reverted_at").is_none());
    }
}
