//! approve, preview, revert, retry.

use serde_json::json;

use crate::support::queue::*;

#[test]
fn approve_next_all_and_by_id() {
    let t = env_test("");
    t.run(["mode", "manual"]).success();
    for (i, id) in ["p1", "p2", "p3", "p4"].iter().enumerate() {
        queue(&t, "pending", &ops(id, &[write_op(&format!("{id}.txt"), "x\n")]), 10 - i as u64);
    }
    t.run(["approve", "next"]).success().stdout_is("approved p1\n");
    t.run(["approve", "p3"]).success().stdout_is("approved p3\n");
    t.run(["approve", "p3"]).code(2).stderr_contains("patch p3 is approved, not pending");
    t.run(["approve", "nope"]).code(2).stderr_contains("no patch nope in main");
    let all = t.run(["approve", "all", "--json"]).success().json();
    assert_eq!(all["approved"], json!(["p2", "p4"]));
    t.run(["approve", "next"]).code(2).stderr_contains("no patch is pending in main");
    t.run(["approve", "all"]).success().stdout_is("no patch is pending in main\n");
    let approvals: Vec<_> = events(&t).into_iter().filter(|e| e["action"] == "patch.approved").collect();
    let ids: Vec<_> = approvals.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["p1", "p3", "p2", "p4"]);
    assert!(approvals.iter().all(|e| e["actor"] == "cli:tester" && e["env"] == "main"));
    t.run(["apply-patch"]).success();
    assert!(["p1", "p2", "p3", "p4"].iter().all(|id| state_of(&t, id) == Some("applied")));
}

#[test]
fn preview_shows_the_diff_and_writes_nothing() {
    let t = env_test("");
    t.write("tree/a.txt", "one\ntwo\nthree\n");
    queue(&t, "pending", &ops("p1", &[write_op("a.txt", "one\n2\nthree\n"), write_op("n.txt", "new\n")]), 1);
    let before = snapshot(t.path());
    let run = t.run(["preview"]).success().stdout_contains("p1 (pending) would change 2 file(s)");
    assert!(
        run.stdout.contains("--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+2\n three\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("new file mode 100644\n--- /dev/null\n+++ b/n.txt\n@@ -0,0 +1 @@\n+new\n"),
        "{}",
        run.stdout
    );
    assert_eq!(snapshot(t.path()), before);
    let json = t.run(["preview", "p1", "--json"]).success().json();
    assert_eq!(json["id"], "p1");
    assert_eq!(json["state"], "pending");

    queue(&t, "pending", &ops("bad", &[json!({"op": "replace", "path": "a.txt", "search": "zzz", "replace": "y"})]), 0);
    t.run(["preview", "bad"]).code(1).stdout_contains("bad (pending) would be refused");
    t.run(["preview", "ghost"]).code(2).stderr_contains("no patch ghost in main");
}

#[test]
fn revert_restores_the_files_a_patch_changed() {
    let t = env_test("");
    t.write("tree/a.txt", "a1\n");
    t.write("tree/gone.txt", "bye\n");
    let before = snapshot(&t.join("tree"));
    queue(
        &t,
        "pending",
        &ops("p1", &[write_op("a.txt", "a2\n"), write_op("sub/new.txt", "n\n"), delete_op("gone.txt")]),
        0,
    );
    t.run(["apply-patch"]).success();
    assert!(!t.exists("tree/gone.txt"));
    t.run(["revert", "last"]).success().stdout_contains("reverted p1: restored");
    assert_eq!(snapshot(&t.join("tree")), before);
    let r = result(&t, "p1");
    assert_eq!(r["reverted_by"], "cli:tester");
    assert!(t.read(".runner/main/summaries/p1.md").contains("- reverted: "));
    t.run(["revert", "p1"]).code(2).stderr_contains("patch p1 was already reverted");
    t.run(["revert", "last"]).code(2).stderr_contains("no applied patch in main is left to revert");
    assert!(events(&t).iter().any(|e| e["action"] == "patch.reverted" && e["id"] == "p1"));
    assert!(!t.exists(".runner/main/backups/p1~revert"));
}

#[test]
fn revert_refuses_to_overwrite_later_changes_unless_forced() {
    let t = env_test("");
    t.write("tree/a.txt", "a1\n");
    t.write("tree/b.txt", "b1\n");
    queue(&t, "pending", &ops("p1", &[write_op("a.txt", "a2\n"), write_op("b.txt", "b2\n")]), 0);
    t.run(["apply-patch"]).success();
    t.write("tree/b.txt", "edited by hand\n");
    t.run(["revert", "p1"])
        .code(1)
        .stdout_contains("refusing to revert p1: these files changed since it was applied: b.txt (--force");
    assert_eq!((t.read("tree/a.txt"), t.read("tree/b.txt")), ("a2\n".into(), "edited by hand\n".into()));
    assert!(result(&t, "p1").get("reverted_at").is_none());
    let report = t.run(["revert", "p1", "--force", "--json"]).success().json();
    assert_eq!(report["changed_since"], json!(["b.txt"]));
    assert_eq!(report["forced"], true);
    assert_eq!((t.read("tree/a.txt"), t.read("tree/b.txt")), ("a1\n".into(), "b1\n".into()));
}

#[test]
fn revert_refuses_what_has_nothing_to_revert() {
    let t = env_test("validate = [\"false\"]");
    queue(&t, "pending", &ops("p1", &[write_op("a.txt", "a\n")]), 0);
    t.run(["apply-patch"]).code(1);
    t.run(["revert", "p1"]).code(2).stderr_contains("patch p1 was not applied (rolled-back)");
    t.run(["revert", "ghost"]).code(2).stderr_contains("no result for patch ghost");
}

#[test]
fn retry_queues_a_failed_patch_again() {
    let t = env_test("");
    t.write("tree/a.txt", "x\n");
    queue(
        &t,
        "pending",
        &ops("p1", &[json!({"op": "replace", "path": "a.txt", "search": "old", "replace": "new"})]),
        0,
    );
    t.run(["apply-patch"]).code(1);
    t.run(["retry", "p1"]).code(0).stdout_contains("p1 is queued again");
    assert_eq!(state_of(&t, "p1"), Some("approved"));
    t.run(["retry", "p1"]).code(2).stderr_contains("patch p1 is approved; only a failed patch can be retried");
    t.write("tree/a.txt", "old\n");
    t.run(["mode", "manual"]).success();
    t.run(["apply-patch"]).success();
    assert_eq!(t.read("tree/a.txt"), "new\n");
    assert!(events(&t).iter().any(|e| e["action"] == "patch.retried"));
}

#[test]
fn revert_needs_the_backup() {
    let t = env_test("");
    queue(&t, "pending", &ops("p1", &[write_op("a.txt", "a\n")]), 0);
    t.run(["apply-patch"]).success();
    std::fs::remove_dir_all(t.join(".runner/main/backups/p1")).unwrap();
    t.run(["revert", "p1"]).code(2).stderr_contains("could not revert p1: its backup is gone");
    assert_eq!(t.read("tree/a.txt"), "a\n");
}
