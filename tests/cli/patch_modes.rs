//! Modes a patch may set: permission bits only (no setuid, setgid or sticky bit, whatever the
//! format), and a git symlink (`new file mode 120000`) becomes a symlink when its target is
//! inside the fence, or is refused.

use crate::support::Test;
use crate::support::queue::*;

const REASON: &str = "only permission bits (0777 at most) may come from a patch";

#[test]
fn setuid_setgid_and_sticky_bits_are_refused_in_every_format() {
    let patches = [
        (r#"{"operations": [{"op": "chmod", "path": "a.sh", "mode": "4755"}]}"#, "mode 4755 would set the setuid bit"),
        (
            r#"{"operations": [{"op": "write", "path": "b.sh", "contents": "x\n", "mode": "6755"}]}"#,
            "mode 6755 would set the setuid and setgid bit",
        ),
        (r#"{"operations": [{"op": "chmod", "path": "a.sh", "mode": 1777}]}"#, "mode 1777 would set the sticky bit"),
        (
            "diff --git a/b.sh b/b.sh\nnew file mode 104755\n--- /dev/null\n+++ b/b.sh\n@@ -0,0 +1 @@\n+x\n",
            "line 2: mode 4755 would set the setuid bit",
        ),
        ("diff --git a/a.sh b/a.sh\nold mode 100755\nnew mode 102755\n", "line 3: mode 2755 would set the setgid bit"),
        (
            r#"{"blockId": "b1", "mutations": [{"path": "b.sh", "contents": "x\n", "mode": "4755"}]}"#,
            "mode 4755 would set the setuid bit",
        ),
    ];
    for (patch, says) in patches {
        let t = Test::new().file("tree/a.sh", "#!/bin/sh\n").file("p", patch);
        let before = snapshot(&t.join("tree"));
        t.run(["apply-patch", "--tree", "tree", "p"]).code(2).stderr_contains(says).stderr_contains(REASON);
        assert_eq!(snapshot(&t.join("tree")), before, "{patch}");
    }
}

#[test]
fn a_queued_setuid_patch_fails_with_the_reason() {
    let t = env_test("");
    t.write("tree/a.sh", "#!/bin/sh\n");
    queue(
        &t,
        "pending",
        &serde_json::json!({"id": "p1", "operations": [{"op": "chmod", "path": "a.sh", "mode": "4755"}]}),
        0,
    );
    t.run(["apply-patch"]).code(1);
    assert_eq!(state_of(&t, "p1"), Some("failed"));
    let reason = result(&t, "p1")["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("would set the setuid bit") && reason.contains(REASON), "{reason}");
}

fn link_diff(path: &str, target: &str) -> String {
    format!(
        "diff --git a/{path} b/{path}\nnew file mode 120000\nindex 0000000..1111111\n--- /dev/null\n+++ b/{path}\n\
         @@ -0,0 +1 @@\n+{target}\n\\ No newline at end of file\n"
    )
}

#[test]
fn a_git_symlink_inside_the_fence_is_created_as_a_symlink() {
    let t =
        Test::new().file("tree/docs/guide.md", "guide\n").file("p.diff", link_diff("src/guide.md", "../docs/guide.md"));
    t.run(["apply-patch", "--tree", "tree", "p.diff"]).success();
    let link = t.join("tree/src/guide.md");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_link(&link).unwrap().to_str(), Some("../docs/guide.md"));
    assert_eq!(t.read("tree/src/guide.md"), "guide\n");
}

#[test]
fn a_git_symlink_leading_out_of_the_fence_is_refused() {
    for (target, says) in [
        ("../../../etc/passwd", "resolves outside the tree"),
        ("/etc/passwd", "resolves outside the tree"),
        ("../.git/hooks", "inside .git/"),
    ] {
        let t = Test::new().file("tree/.git/hooks/README", "x\n").file("p.diff", link_diff("src/link", target));
        let before = snapshot(&t.join("tree"));
        t.run(["apply-patch", "--tree", "tree", "p.diff"])
            .code(1)
            .stderr_contains(&format!("the symlink src/link -> {target} leads where patches may not point"))
            .stderr_contains(says);
        assert_eq!(snapshot(&t.join("tree")), before, "{target}");
    }
}

#[test]
fn a_queued_symlink_is_rolled_back_and_reverted_like_a_file() {
    let t = env_test("");
    t.write("tree/docs/guide.md", "guide\n");
    let patch = serde_json::json!({"id": "p1", "patch": link_diff("guide.md", "docs/guide.md")});
    queue(&t, "pending", &patch, 0);
    t.run(["apply-patch"]).success();
    assert_eq!(std::fs::read_link(t.join("tree/guide.md")).unwrap().to_str(), Some("docs/guide.md"));
    t.run(["revert", "p1"]).success().stdout_contains("reverted p1: restored guide.md");
    assert!(std::fs::symlink_metadata(t.join("tree/guide.md")).is_err(), "the symlink is gone");
}
