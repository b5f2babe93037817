//! `git = "commit"` environments, on real repositories: one commit of exactly a patch's files,
//! refusals before applying (dirty files, wrong branch, not a work tree), a refusing hook rolling
//! the patch back, reverts as commits, and runs killed on either side of the commit.

use std::process::Command;

use serde_json::{Value, json};

use crate::support::Test;
use crate::support::queue::*;

/// A test whose tree is a git repository with `a.txt`, `b.txt` and `del.txt` committed.
fn repo(extra: &str) -> Test {
    let t = env_test(&format!("git = \"commit\"\n{extra}"));
    git(&t, &["init", "-q", "-b", "master"]);
    git(&t, &["config", "user.name", "Operator"]);
    git(&t, &["config", "user.email", "op@example.com"]);
    for (name, text) in [("a.txt", "a1\n"), ("b.txt", "b1\n"), ("del.txt", "gone soon\n")] {
        t.write(&format!("tree/{name}"), text);
    }
    git(&t, &["add", "."]);
    git(&t, &["commit", "-q", "-m", "start"]);
    t
}

/// Run git in the tree (with the test's HOME, so no global config leaks in); its stdout.
fn git(t: &Test, args: &[&str]) -> String {
    let out = Command::new("git").args(args).current_dir(t.join("tree")).env("HOME", t.path()).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// An executable hook in the tree's repository.
fn hook(t: &Test, name: &str, script: &str) {
    let path = t.join(&format!("tree/.git/hooks/{name}"));
    std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

fn head(t: &Test) -> String {
    git(t, &["rev-parse", "HEAD"]).trim().to_string()
}

fn patch(id: &str, ops_: &[Value]) -> Value {
    let mut p = ops(id, ops_);
    p["description"] = json!("Make a two\n\nA longer explanation the model wrote.");
    p["author"] = json!("gpt-test");
    p
}

#[test]
fn an_applied_patch_is_one_commit_of_exactly_its_files() {
    let t = repo("");
    t.write("tree/b.txt", "b1 edited by hand\n"); // unstaged work
    t.write("tree/staged.txt", "staged\n");
    git(&t, &["add", "staged.txt"]); // staged work
    let ops_ = [write_op("a.txt", "a2\n"), write_op("-rf.txt", "a path like an option\n"), delete_op("del.txt")];
    queue(&t, "pending", &patch("p1", &ops_), 1);
    t.run(["apply-patch"]).success();

    let result = result(&t, "p1");
    assert_eq!(result["outcome"], "applied");
    assert_eq!(result["commit"], head(&t).as_str());
    assert_eq!(git(&t, &["log", "-1", "--format=%s"]), "Make a two\n");
    let files = git(&t, &["show", "--name-status", "--format=", "HEAD"]);
    let mut names: Vec<&str> = files.lines().collect();
    names.sort_unstable();
    assert_eq!(names, ["A\t-rf.txt", "D\tdel.txt", "M\ta.txt"]);
    assert_eq!(git(&t, &["show", "HEAD:-rf.txt"]), "a path like an option\n");
    // The operator's own work is as it was: b.txt modified and unstaged, staged.txt staged.
    assert_eq!(git(&t, &["status", "--porcelain"]), " M b.txt\nA  staged.txt\n");
    let message = git(&t, &["log", "-1", "--format=%B"]);
    assert!(message.contains("modify a.txt (+1 -1)"), "{message}");
    let trailers = Command::new("git")
        .args(["interpret-trailers", "--parse"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(message.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert_eq!(
        String::from_utf8(trailers.stdout).unwrap(),
        "Runner-Patch: p1\nRunner-Env: main\nRunner-Author: gpt-test\n"
    );
    assert_eq!(git(&t, &["log", "-1", "--format=%an <%ae>"]), "runner <runner@localhost>\n");
    assert!(t.read(".runner/main/summaries/p1.md").contains(&format!("- commit: {}", head(&t))));
}

#[test]
fn a_patch_touching_a_file_with_uncommitted_changes_is_refused() {
    let t = repo("");
    t.write("tree/a.txt", "a1 and the operator's edit\n");
    let before = head(&t);
    queue(&t, "pending", &patch("p1", &[write_op("a.txt", "a2\n"), write_op("c.txt", "c\n")]), 1);
    t.run(["apply-patch"]).code(1);
    let reason = result(&t, "p1")["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("a.txt has uncommitted changes"), "{reason}");
    assert_eq!(t.read("tree/a.txt"), "a1 and the operator's edit\n");
    assert!(!t.exists("tree/c.txt"));
    assert_eq!(head(&t), before);

    // With git_dirty = "allow" it applies over them, and commits only its files.
    let t = repo("git_dirty = \"allow\"");
    t.write("tree/a.txt", "a1 and the operator's edit\n");
    queue(&t, "pending", &patch("p1", &[write_op("a.txt", "a2\n")]), 1);
    t.run(["apply-patch"]).success();
    assert_eq!(git(&t, &["show", "HEAD:a.txt"]), "a2\n");
}

#[test]
fn the_wrong_branch_or_a_detached_head_is_refused() {
    let t = repo("git_branch = \"runner/main\"");
    queue(&t, "pending", &patch("p1", &[write_op("a.txt", "a2\n")]), 1);
    t.run(["apply-patch"]).code(1);
    let reason = result(&t, "p1")["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("git_branch is \"runner/main\" but \"master\" is checked out"), "{reason}");
    assert_eq!(t.read("tree/a.txt"), "a1\n");

    git(&t, &["checkout", "-q", "--detach"]);
    queue(&t, "pending", &patch("p2", &[write_op("a.txt", "a2\n")]), 1);
    t.run(["apply-patch"]).code(1);
    assert!(result(&t, "p2")["reason"].as_str().unwrap().contains("HEAD is detached"));

    git(&t, &["checkout", "-q", "-b", "runner/main"]);
    queue(&t, "pending", &patch("p3", &[write_op("a.txt", "a2\n")]), 1);
    t.run(["apply-patch"]).success();
    assert_eq!(git(&t, &["log", "-1", "--format=%s", "runner/main"]), "Make a two\n");
}

#[test]
fn a_tree_that_is_not_a_work_tree_is_refused_and_reported() {
    let t = env_test("git = \"commit\"");
    t.write("tree/a.txt", "a1\n");
    queue(&t, "pending", &patch("p1", &[write_op("a.txt", "a2\n")]), 1);
    t.run(["apply-patch"]).code(1);
    assert!(result(&t, "p1")["reason"].as_str().unwrap().contains("is not a git work tree"));
    assert_eq!(t.read("tree/a.txt"), "a1\n");
    t.run(["config"]).success().stdout_contains("# problem: env.main: git = \"commit\" but");
    let json = t.run(["config", "--json"]).success().json();
    assert_eq!(json["problems"].as_array().unwrap().len(), 1);
    // health-check counts it as unhealthy, with or without checks of its own.
    t.run(["health-check"]).code(1).stdout_contains("problem: env.main: git = \"commit\" but");
    let health = t.run(["health-check", "--json"]).code(1).json();
    assert!(health["problems"][0].as_str().unwrap().contains("is not a git work tree"), "{health}");
}

#[test]
fn a_refusing_pre_commit_hook_rolls_the_patch_back() {
    let t = repo("");
    hook(&t, "pre-commit", "echo 'hook says no: a.txt is not formatted'\nexit 1");
    let before = head(&t);
    queue(&t, "pending", &patch("p1", &[write_op("a.txt", "a2\n"), write_op("new.txt", "n\n")]), 1);
    t.run(["apply-patch"]).code(1);
    let result = result(&t, "p1");
    assert_eq!(result["outcome"], "rolled-back");
    assert!(result["reason"].as_str().unwrap().contains("hook says no: a.txt is not formatted"), "{result}");
    assert_eq!(t.read("tree/a.txt"), "a1\n");
    assert!(!t.exists("tree/new.txt"));
    assert_eq!(head(&t), before);
    assert_eq!(git(&t, &["status", "--porcelain"]), "", "the index is as it was");
}

#[test]
fn a_revert_of_a_committed_patch_is_a_revert_commit() {
    let t = repo("");
    queue(&t, "pending", &patch("p1", &[write_op("a.txt", "a2\n"), write_op("new.txt", "n\n")]), 1);
    t.run(["apply-patch"]).success();
    let applied = head(&t);
    t.run(["revert", "p1"]).success();
    assert_eq!(t.read("tree/a.txt"), "a1\n");
    assert!(!t.exists("tree/new.txt"));
    assert_eq!(git(&t, &["log", "-1", "--format=%s"]), "Revert \"Make a two\"\n");
    let body = git(&t, &["log", "-1", "--format=%B"]);
    assert!(body.contains("Runner-Reverts: p1") && body.contains(&applied), "{body}");
    assert_eq!(git(&t, &["status", "--porcelain"]), "");
    assert_eq!(result(&t, "p1")["revert_commit"], head(&t).as_str());

    // Files changed since: refused as without git, and nothing committed.
    queue(&t, "pending", &patch("p2", &[write_op("a.txt", "a3\n")]), 1);
    t.run(["apply-patch"]).success();
    t.write("tree/a.txt", "edited after\n");
    let before = head(&t);
    t.run(["revert", "p2"]).code(1);
    assert_eq!(head(&t), before);
}

#[test]
fn a_run_killed_before_its_commit_is_rolled_back() {
    // The check kills the run (its parent) once: after the apply, before the commit.
    let t = repo("validate = [\"test -e ../killed || { touch ../killed; kill -9 $PPID; }\"]");
    let before = head(&t);
    queue(&t, "pending", &patch("p1", &[write_op("a.txt", "a2\n")]), 1);
    assert_ne!(t.run(["apply-patch"]).code, 0);
    assert_eq!(t.read("tree/a.txt"), "a2\n", "killed halfway");
    t.run(["apply-patch"]).success();
    let result = result(&t, "p1");
    assert_eq!(result["outcome"], "error");
    assert!(result.get("commit").is_none());
    assert_eq!(t.read("tree/a.txt"), "a1\n");
    assert_eq!(head(&t), before);
    assert_eq!(git(&t, &["status", "--porcelain"]), "");
}

#[test]
fn a_run_killed_after_its_commit_is_recorded_as_applied() {
    let t = repo("");
    // git's post-commit hook kills the runner (git's parent) once the commit has landed.
    hook(
        &t,
        "post-commit",
        "test -e ../killed && exit 0\ntouch ../killed\nkill -9 $(awk '{print $4}' /proc/$PPID/stat)",
    );
    queue(&t, "pending", &patch("p1", &[write_op("a.txt", "a2\n")]), 1);
    assert_ne!(t.run(["apply-patch"]).code, 0);
    assert!(t.exists("killed"));
    assert_eq!(state_of(&t, "p1"), Some("applying"));
    let committed = head(&t);
    t.run(["apply-patch"]).success();
    let result = result(&t, "p1");
    assert_eq!(result["outcome"], "applied");
    assert_eq!(result["commit"], committed.as_str());
    assert_eq!(state_of(&t, "p1"), Some("applied"));
    assert_eq!(t.read("tree/a.txt"), "a2\n");
    assert_eq!(head(&t), committed, "no second commit");
    assert_eq!(git(&t, &["status", "--porcelain"]), "");
}

#[test]
fn the_commit_is_shown_to_the_model_and_on_the_dashboard() {
    let t = repo("");
    let toml = t.read("runner.toml");
    t.write("runner.toml", format!("{toml}\n{}", crate::support::webhook::config("")));
    queue(&t, "pending", &patch("p1", &[write_op("a.txt", "a2\n")]), 1);
    t.run(["apply-patch"]).success();
    let commit = head(&t);
    let server = crate::support::webhook::Server::start(&t);
    let auth = format!("Bearer {}", crate::support::webhook::TOKEN);
    let answer = server.get("/patches/p1", &[("Authorization", &auth)]);
    assert_eq!(answer.status, 200, "{answer:?}");
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["result"]["commit"], commit.as_str());
    assert!(body["summary"].as_str().unwrap().contains(&format!("- commit: {commit}")));
    let page = server.get("/dashboard/patches/p1", &[("Authorization", &auth)]);
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains(&format!("<dt>commit<dd>{commit}")), "{}", page.body);
}

#[test]
fn a_revert_killed_after_its_commit_is_recorded_as_reverted() {
    let t = repo("");
    queue(&t, "pending", &patch("p1", &[write_op("a.txt", "a2\n")]), 1);
    t.run(["apply-patch"]).success();
    hook(
        &t,
        "post-commit",
        "test -e ../killed && exit 0\ntouch ../killed\nkill -9 $(awk '{print $4}' /proc/$PPID/stat)",
    );
    assert_ne!(t.run(["revert", "p1"]).code, 0);
    assert!(t.exists("killed"));
    let reverted = head(&t);
    assert!(git(&t, &["log", "-1", "--format=%B"]).contains("Runner-Reverts: p1"));
    assert!(result(&t, "p1").get("reverted_at").is_none(), "killed before it was recorded");
    // The next run of the environment's job finds the commit and records the revert, rather
    // than undoing a change git already holds.
    t.run(["apply-patch"]).success();
    let result = result(&t, "p1");
    assert!(result["reverted_at"].is_string(), "{result}");
    assert_eq!(result["revert_commit"], reverted.as_str());
    assert_eq!(t.read("tree/a.txt"), "a1\n");
    assert_eq!(head(&t), reverted, "no further commit");
    assert_eq!(git(&t, &["status", "--porcelain"]), "");
    assert!(!t.exists(".runner/main/patches/applying/p1~revert.journal"));
}
