//! apply-patch in queue mode: claiming, modes, validate commands, rollback, records.

use std::time::Duration;

use serde_json::json;

use crate::support::queue::*;
use crate::support::wait_until;

#[test]
fn applies_waiting_patches_oldest_first_and_records_each() {
    let t = env_test("");
    t.write("tree/a.txt", "one\n");
    queue(&t, "pending", &ops("p-new", &[write_op("a.txt", "three\n")]), 1);
    queue(&t, "pending", &ops("p-old", &[write_op("a.txt", "two\n"), write_op("src/b.txt", "b\n")]), 2);
    let report = t.run(["apply-patch", "--json"]).success().json();
    let order: Vec<_> = report["patches"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(order, ["p-old", "p-new"]);
    assert_eq!(t.read("tree/a.txt"), "three\n");
    assert_eq!(t.read("tree/src/b.txt"), "b\n");
    for id in ["p-old", "p-new"] {
        assert_eq!(state_of(&t, id), Some("applied"));
        let r = result(&t, id);
        assert_eq!((r["outcome"].as_str(), r["state"].as_str()), (Some("applied"), Some("applied")));
        assert_eq!(r["description"], format!("test patch {id}"));
        assert!(t.read(&format!(".runner/main/summaries/{id}.md")).contains(&format!("# Patch {id}: applied")));
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&t.read(".runner/main/backups/p-old/manifest.json")).unwrap();
    assert_eq!(manifest["files"][0]["path"], "a.txt");
    assert_eq!(manifest["files"][1]["existed"], false);
    let actions: Vec<_> = events(&t).iter().map(|e| e["action"].as_str().unwrap().to_string()).collect();
    assert_eq!(actions, ["patch.applied", "patch.applied"]);
    assert!(t.exists(".runner/state/heartbeats/apply-patch.json"));
    assert_eq!(std::fs::read_dir(t.join(".runner/main/patches/applying")).unwrap().count(), 0);
    t.run(["apply-patch"]).success().stdout_contains("nothing to apply in main");
}

#[test]
fn a_refused_patch_fails_alone_and_changes_nothing() {
    let t = env_test("allowed_paths = [\"src/**\"]");
    t.write("tree/src/a.txt", "a\n");
    queue(&t, "pending", &ops("bad", &[write_op("src/a.txt", "x\n"), write_op("etc/passwd", "x\n")]), 2);
    queue(&t, "pending", &ops("good", &[write_op("src/a.txt", "b\n")]), 1);
    let run = t.run(["apply-patch"]).code(1).stdout_contains("refused bad").stdout_contains("applied good");
    assert!(run.stdout.contains("allowed_paths"), "{}", run.stdout);
    assert_eq!(t.read("tree/src/a.txt"), "b\n");
    assert!(!t.exists("tree/etc"));
    assert_eq!(state_of(&t, "bad"), Some("failed"));
    assert_eq!(result(&t, "bad")["outcome"], "refused");
    assert!(!t.exists(".runner/main/backups/bad"), "a refused patch needs no backup");
}

#[test]
fn a_failed_validate_command_restores_a_byte_identical_tree() {
    let t = env_test("validate = [\"test -f keep.txt\", \"echo checking; exit 3\"]");
    t.write("tree/keep.txt", "keep\n");
    t.write("tree/dir/mod.txt", "old\n");
    std::fs::set_permissions(t.join("tree/dir/mod.txt"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let before = snapshot(&t.join("tree"));
    let patch =
        ops("p1", &[write_op("dir/mod.txt", "new\n"), write_op("deep/new/file.txt", "n\n"), delete_op("keep.txt")]);
    queue(&t, "pending", &patch, 0);
    // keep.txt is deleted by the patch, so the first check fails and the second never runs.
    t.run(["apply-patch"])
        .code(1)
        .stdout_contains("rolled-back p1: validate command `test -f keep.txt` failed (exit 1)");
    assert_eq!(snapshot(&t.join("tree")), before);
    let r = result(&t, "p1");
    assert_eq!(r["outcome"], "rolled-back");
    assert_eq!(r["checks"].as_array().unwrap().len(), 1);
    assert_eq!(state_of(&t, "p1"), Some("failed"));
    assert!(!t.exists(".runner/main/backups/p1"));

    let t2 = env_test("validate = [\"true\", \"echo checking; exit 3\"]");
    queue(&t2, "pending", &ops("p2", &[write_op("x.txt", "x\n")]), 0);
    t2.run(["apply-patch"]).code(1);
    let r = result(&t2, "p2");
    assert_eq!(r["checks"][1]["exit_code"], 3);
    assert_eq!(r["checks"][1]["output"], "checking\n");
    assert!(t2.read(".runner/main/summaries/p2.md").contains("checking"));
    assert!(!t2.exists("tree/x.txt"));
}

#[test]
fn validate_commands_run_in_the_tree_and_see_the_patch() {
    let t = env_test("validate = [\"grep -q new a.txt && test \\\"$RUNNER_PATCH_ID\\\" = p1\"]");
    t.write("tree/a.txt", "old\n");
    queue(&t, "pending", &ops("p1", &[write_op("a.txt", "new\n")]), 0);
    t.run(["apply-patch"]).success();
    assert_eq!(result(&t, "p1")["checks"][0]["exit_code"], 0);
}

#[test]
fn a_validate_timeout_kills_the_command_and_rolls_back() {
    let t = env_test("validate = [\"echo started; sleep 30\"]\nvalidate_timeout = \"1s\"");
    t.write("tree/a.txt", "old\n");
    queue(&t, "pending", &ops("p1", &[write_op("a.txt", "new\n")]), 0);
    t.run(["apply-patch"]).code(1).stdout_contains("timed out");
    assert_eq!(t.read("tree/a.txt"), "old\n");
    let check = &result(&t, "p1")["checks"][0];
    assert_eq!(check["timed_out"], true);
    assert!(check["output"].as_str().unwrap().ends_with("\n[killed after 1s]"), "{check}");
}

#[test]
fn validate_output_is_capped_to_output_limit() {
    let t = env_test("validate = [\"seq 1 100000; exit 1\"]\noutput_limit = 100");
    queue(&t, "pending", &ops("p1", &[write_op("a.txt", "new\n")]), 0);
    t.run(["apply-patch"]).code(1);
    let output = result(&t, "p1")["checks"][0]["output"].as_str().unwrap().to_string();
    let (marker, kept) = output.split_once('\n').unwrap();
    assert_eq!(marker, "[588795 bytes cut]"); // seq 1 100000 prints 588895 bytes
    assert_eq!(kept.len(), 100);
    assert!(kept.ends_with("99999\n100000\n"));
}

#[test]
fn patch_commands_are_refused_unless_the_environment_allows_them() {
    let t = env_test("");
    t.write("tree/a.txt", "old\n");
    let mut patch = ops("p1", &[write_op("a.txt", "new\n")]);
    patch["validate"] = json!(["touch ran-patch-command"]);
    queue(&t, "pending", &patch, 0);
    t.run(["apply-patch"]).code(1).stdout_contains("allow_patch_commands is false");
    assert_eq!(t.read("tree/a.txt"), "old\n");
    assert!(!t.exists("tree/ran-patch-command"));
    assert_eq!(result(&t, "p1")["outcome"], "refused");

    let t = env_test("allow_patch_commands = true\nvalidate = [\"true\"]");
    patch["validate"] = json!(["grep -q new a.txt"]);
    t.write("tree/a.txt", "old\n");
    queue(&t, "pending", &patch, 0);
    t.run(["apply-patch"]).success();
    let checks = result(&t, "p1")["checks"].clone();
    assert_eq!(checks[0]["command"], "true");
    assert_eq!(checks[1]["command"], "grep -q new a.txt");
}

#[test]
fn modes_decide_which_patches_apply() {
    let t = env_test("");
    queue(&t, "pending", &ops("pend", &[write_op("p.txt", "p\n")]), 2);
    queue(&t, "approved", &ops("appr", &[write_op("a.txt", "a\n")]), 1);
    for mode in ["paused", "lockdown"] {
        t.run(["mode", mode]).success();
        t.run(["apply-patch"]).success().stdout_contains(&format!("mode is {mode}: nothing was applied"));
        assert_eq!((state_of(&t, "pend"), state_of(&t, "appr")), (Some("pending"), Some("approved")));
    }
    t.run(["mode", "manual"]).success();
    let report = t.run(["apply-patch", "--json"]).success().json();
    assert_eq!(report["patches"][0]["id"], "appr");
    assert_eq!(report["waiting"], json!(["pend"]));
    assert_eq!((state_of(&t, "pend"), state_of(&t, "appr")), (Some("pending"), Some("applied")));
    t.run(["mode", "auto"]).success();
    t.run(["apply-patch"]).success().stdout_contains("applied pend");
    assert_eq!(t.read("tree/p.txt"), "p\n");
}

#[test]
fn require_approval_holds_pending_patches_in_auto_mode() {
    let t = env_test("require_approval = true");
    queue(&t, "pending", &ops("p1", &[write_op("a.txt", "a\n")]), 0);
    t.run(["apply-patch"]).success().stdout_contains("1 patch(es) waiting in main (mode auto)");
    assert_eq!(state_of(&t, "p1"), Some("pending"));
    t.run(["approve", "p1"]).success();
    t.run(["apply-patch"]).success();
    assert_eq!(t.read("tree/a.txt"), "a\n");
}

#[test]
fn a_file_is_queued_and_processed_and_not_queued_twice() {
    let t = env_test("");
    t.write("tree/a.txt", "one\ntwo\n");
    t.write("fix.diff", "--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+TWO\n");
    let report = t.run(["apply-patch", "--env", "main", "fix.diff", "--json"]).success().json();
    let id = report["patches"][0]["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("sha256-"), "{id}");
    assert_eq!(t.read("tree/a.txt"), "one\nTWO\n");
    let queued: serde_json::Value =
        serde_json::from_str(&t.read(&format!(".runner/main/patches/applied/{id}.json"))).unwrap();
    assert!(queued["patch"].as_str().unwrap().starts_with("--- a/a.txt"));
    t.run(["apply-patch", "fix.diff"]).code(2).stderr_contains(&format!("patch {id} is already applied"));

    // A JSON envelope keeps its own id; in manual mode it waits.
    t.run(["mode", "manual"]).success();
    t.write("p.json", serde_json::to_string(&ops("mine", &[write_op("b.txt", "b\n")])).unwrap());
    t.run(["apply-patch", "p.json"]).code(1).stdout_contains("patch mine waits for `runner approve mine`");
    assert_eq!(state_of(&t, "mine"), Some("pending"));
    // Given again once approved, it is processed.
    t.run(["approve", "mine"]).success();
    t.run(["apply-patch", "p.json"]).success().stdout_contains("applied mine");
}

#[test]
fn stdin_and_check_write_nothing() {
    let t = env_test("");
    t.write("tree/a.txt", "a\n");
    let patch = serde_json::to_string(&ops("p1", &[write_op("a.txt", "b\n")])).unwrap();
    t.run_stdin(["apply-patch", "--check", "-"], &patch).success().stdout_contains("would apply p1 (1 file(s))");
    queue(&t, "pending", &ops("p2", &[json!({"op": "replace", "path": "a.txt", "search": "zzz", "replace": "y"})]), 0);
    let run = t.run(["apply-patch", "--check"]).code(1).stdout_contains("would refuse p2");
    assert!(!run.stdout.contains("p1"));
    assert_eq!(t.read("tree/a.txt"), "a\n");
    assert_eq!(state_of(&t, "p1"), None);
    assert_eq!(state_of(&t, "p2"), Some("pending"));
    t.run_stdin(["apply-patch", "-"], &patch).success();
    assert_eq!(t.read("tree/a.txt"), "b\n");
}

#[test]
fn an_already_applied_patch_changes_nothing_and_succeeds() {
    let t = env_test("");
    t.write("tree/a.txt", "same\n");
    queue(&t, "pending", &ops("p1", &[write_op("a.txt", "same\n")]), 0);
    t.run(["apply-patch"]).success().stdout_contains("p1 is already applied");
    assert_eq!(result(&t, "p1")["outcome"], "already-applied");
    assert_eq!(state_of(&t, "p1"), Some("applied"));
}

#[test]
fn format_flags_belong_to_direct_mode() {
    let t = env_test("");
    t.write("x.diff", "");
    t.run(["apply-patch", "--format", "unified", "x.diff"]).code(2).stderr_contains("--format and -p go with --tree");
}

#[test]
fn a_second_run_is_busy_while_the_first_holds_the_lock() {
    // The first run's check holds it (and the lock) until the test has seen the second refused.
    let t = env_test("validate = [\"touch ../started; while [ ! -f ../release ]; do sleep 0.02; done\"]");
    queue(&t, "pending", &ops("p1", &[write_op("a.txt", "a\n")]), 0);
    let mut first = t.command(["apply-patch"]).stdout(std::process::Stdio::null()).spawn().unwrap();
    wait_until(Duration::from_secs(60), "the first run's validate command to start", || t.exists("started"));
    let busy = t.run(["apply-patch"]);
    // With --wait, a third run blocks on the lock instead of giving up.
    let mut waiter = t.command(["apply-patch", "--wait"]).stdout(std::process::Stdio::null()).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(waiter.try_wait().unwrap().is_none(), "--wait returned while the lock was held");
    t.write("release", "");
    busy.code(75).stderr_contains("--wait");
    assert!(first.wait().unwrap().success());
    assert!(waiter.wait().unwrap().success(), "--wait ran once the lock was free");
}

#[test]
fn a_patch_addressed_to_another_environment_is_refused() {
    let t = env_test("");
    let mut patch = ops("p1", &[write_op("a.txt", "a\n")]);
    patch["env"] = json!("CYOPS");
    queue(&t, "pending", &patch, 1);
    let mut same = ops("p2", &[write_op("b.txt", "b\n")]);
    same["env"] = json!("MAIN");
    queue(&t, "pending", &same, 0);
    t.run(["apply-patch"])
        .code(1)
        .stdout_contains("refused p1: the patch is addressed to environment \"CYOPS\", not \"main\"")
        .stdout_contains("applied p2");
    assert!(!t.exists("tree/a.txt"));
}

#[test]
fn a_mode_change_during_a_run_stops_it() {
    // p1's check pauses runner, as an operator would from another terminal.
    let pause = format!("{} --config ../runner.toml mode paused", crate::support::BIN);
    let t = env_test(&format!("validate = [{pause:?}]"));
    queue(&t, "pending", &ops("p1", &[write_op("a.txt", "a\n")]), 2);
    queue(&t, "pending", &ops("p2", &[write_op("b.txt", "b\n")]), 1);
    t.run(["apply-patch"])
        .success()
        .stdout_contains("applied p1")
        .stdout_contains("mode changed to paused during the run: stopped; the rest waits");
    assert_eq!((state_of(&t, "p1"), state_of(&t, "p2")), (Some("applied"), Some("pending")));
}
