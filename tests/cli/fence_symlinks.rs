//! The fence judges a path by where its symlinked directories lead, not by how it is spelled: a
//! symlink already in the tree carries no write into `.git/` or out of `allowed_paths`.

use crate::support::Test;
use crate::support::queue::*;

#[test]
fn a_symlink_to_dot_git_carries_no_write_into_its_hooks() {
    let t = Test::new().file("tree/.git/hooks/README", "hooks\n").file(
        "p.json",
        r##"{"operations": [{"op": "write", "path": "gitlink/hooks/pre-commit", "contents": "#!/bin/sh\nevil\n", "mode": "755"}]}"##,
    );
    std::os::unix::fs::symlink(".git", t.join("tree/gitlink")).unwrap();
    t.run(["apply-patch", "--tree", "tree", "p.json"])
        .code(1)
        .stderr_contains("goes through a symlink to \".git/hooks/pre-commit\"")
        .stderr_contains("inside .git/");
    assert!(!t.exists("tree/.git/hooks/pre-commit"));
}

#[test]
fn a_symlink_from_an_allowed_directory_does_not_escape_allowed_paths() {
    let t = env_test("allowed_paths = [\"src/**\"]");
    t.write("tree/src/lib.rs", "lib\n");
    t.write("tree/secrets/key", "secret\n");
    std::os::unix::fs::symlink("../secrets", t.join("tree/src/leak")).unwrap();
    queue(&t, "pending", &ops("p1", &[write_op("src/leak/key", "stolen\n")]), 0);
    t.run(["apply-patch"]).code(1);
    let reason = result(&t, "p1")["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("to \"secrets/key\"") && reason.contains("outside allowed_paths (src/**)"), "{reason}");
    assert_eq!(t.read("tree/secrets/key"), "secret\n");
}
