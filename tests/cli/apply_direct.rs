//! `runner apply-patch --tree DIR FILE`: the matcher's forgiving and strict cases with exact
//! bytes, refusals that leave the tree byte-identical, the fence, and the report.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::{Run, Test};

/// Every file under `dir` with its bytes and mode: equal snapshots mean not one byte changed
/// and nothing was left behind.
pub(crate) fn snapshot(dir: &Path) -> BTreeMap<String, (Vec<u8>, u32)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| !e.file_type().is_dir())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            let bytes = if e.file_type().is_symlink() { Vec::new() } else { std::fs::read(e.path()).unwrap() };
            (rel, (bytes, meta.permissions().mode() & 0o7777))
        })
        .collect()
}

/// Apply `patch` to a tree holding `files`; returns the test and the run.
pub(crate) fn apply(files: &[(&str, &[u8])], patch: &str, extra: &[&str]) -> (Test, Run) {
    let t = Test::new().file("p.patch", patch);
    std::fs::create_dir(t.join("tree")).unwrap();
    for (rel, bytes) in files {
        t.write(&format!("tree/{rel}"), bytes);
    }
    let mut args = vec!["apply-patch", "--tree", "tree", "p.patch"];
    args.extend_from_slice(extra);
    let run = t.run(args);
    (t, run)
}

/// Apply and expect success with exactly `expected` in `path`.
#[track_caller]
pub(crate) fn applies(file: &[u8], patch: &str, expected: &[u8]) {
    let (t, run) = apply(&[("f.txt", file)], patch, &[]);
    run.success();
    assert_eq!(
        String::from_utf8_lossy(&std::fs::read(t.join("tree/f.txt")).unwrap()),
        String::from_utf8_lossy(expected)
    );
}

/// Apply and expect a refusal (exit 1) mentioning `why`, with the tree untouched.
#[track_caller]
pub(crate) fn refuses(files: &[(&str, &[u8])], patch: &str, why: &str) -> Run {
    let t = Test::new();
    std::fs::create_dir(t.join("tree")).unwrap();
    for (rel, bytes) in files {
        t.write(&format!("tree/{rel}"), bytes);
    }
    let before = snapshot(&t.join("tree"));
    t.write("p.patch", patch);
    let run = t.run(["apply-patch", "--tree", "tree", "p.patch"]).code(1).stderr_contains(why);
    assert_eq!(snapshot(&t.join("tree")), before, "a refused patch changed the tree");
    run
}

const ABC: &[u8] = b"one\ntwo\nthree\nfour\nfive\n";

#[test]
fn exact_offset_and_missing_line_numbers() {
    let want = b"one\ntwo\nTHREE\nfour\nfive\n";
    applies(ABC, "--- a/f.txt\n+++ b/f.txt\n@@ -2,3 +2,3 @@\n two\n-three\n+THREE\n four\n", want);
    applies(ABC, "--- a/f.txt\n+++ b/f.txt\n@@ -40,3 +40,3 @@\n two\n-three\n+THREE\n four\n", want);
    applies(ABC, "--- a/f.txt\n+++ b/f.txt\n@@ @@\n two\n-three\n+THREE\n four\n", want);
    // Counts that do not add up.
    applies(ABC, "--- a/f.txt\n+++ b/f.txt\n@@ -2,7 +2,1 @@\n two\n-three\n+THREE\n four\n", want);
}

#[test]
fn file_changed_elsewhere_and_hunks_in_order() {
    let file = b"new top\none\ntwo\nthree\nfour\nfive\nsix\n";
    let patch = "--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,2 @@\n-one\n+ONE\n two\n@@ -5,2 +5,2 @@\n five\n-six\n+SIX\n";
    applies(file, patch, b"new top\nONE\ntwo\nthree\nfour\nfive\nSIX\n");
}

#[test]
fn a_hunk_without_line_numbers_is_looked_for_after_the_previous_one() {
    // `k v` is in two places; after hunk 1 only one remains.
    let patch = "--- a/f.txt\n+++ b/f.txt\n@@ @@\n m\n-s\n+S\n@@ @@\n k\n-v\n+V\n";
    applies(b"k\nv\nm\ns\nk\nv\n", patch, b"k\nv\nm\nS\nk\nV\n");
}

#[test]
fn blank_context_without_its_space() {
    let file = b"a\n\nb\nc\n";
    applies(file, "--- a/f.txt\n+++ b/f.txt\n@@ -1,4 +1,4 @@\n a\n\n-b\n+B\n c\n", b"a\n\nB\nc\n");
}

#[test]
fn whitespace_indentation_and_unicode_punctuation() {
    applies(b"x = 1   \ny = 2\n", "--- a/f.txt\n+++ b/f.txt\n@@ @@\n-x = 1\n+x = 10\n y = 2\n", b"x = 10\ny = 2\n");
    // Indented deeper in the file than in the patch: added lines get the same shift.
    applies(
        b"fn f() {\n        if a {\n            b();\n        }\n}\n",
        "--- a/f.txt\n+++ b/f.txt\n@@ @@\n if a {\n-    b();\n+    c();\n+    d();\n }\n",
        b"fn f() {\n        if a {\n            c();\n            d();\n        }\n}\n",
    );
    applies(
        "say(\u{201C}hi\u{201D}) \u{2014} ok\nend\n".as_bytes(),
        "--- a/f.txt\n+++ b/f.txt\n@@ @@\n-say(\"hi\") - ok\n+say(\"hello\")\n end\n",
        b"say(\"hello\")\nend\n",
    );
}

#[test]
fn whitespace_only_changes_apply_once() {
    let patch = "--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,2 @@\n a\n-    b\n+  b\n";
    let (t, run) = apply(&[("f.txt", b"a\n    b\n")], patch, &[]);
    run.success();
    assert_eq!(t.read("tree/f.txt"), "a\n  b\n");
    // Applied, the old side still matches with whitespace ignored; it must not apply again.
    t.run(["apply-patch", "--tree", "tree", "p.patch"]).success().stdout_contains("already applied");
    assert_eq!(t.read("tree/f.txt"), "a\n  b\n");
}

#[test]
fn a_sloppy_removed_line_beside_identical_context_is_still_removed() {
    let patch = "--- a/f.txt\n+++ b/f.txt\n@@ -2,3 +2,2 @@\n r\n r\n-r  \n";
    applies(b"x\nr\nr\nr\n", patch, b"x\nr\nr\n");
}

#[test]
fn crlf_bom_final_newline_and_mode_are_kept() {
    let t = Test::new()
        .file("tree/f.txt", b"\xEF\xBB\xBFa\r\nb\r\nc")
        .file("p.patch", "--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,4 @@\n a\n-b\n+B\n+B2\n c\n");
    std::fs::set_permissions(t.join("tree/f.txt"), std::fs::Permissions::from_mode(0o755)).unwrap();
    t.run(["apply-patch", "--tree", "tree", "p.patch"]).success().stdout_is("");
    assert_eq!(std::fs::read(t.join("tree/f.txt")).unwrap(), b"\xEF\xBB\xBFa\r\nB\r\nB2\r\nc");
    assert_eq!(std::fs::metadata(t.join("tree/f.txt")).unwrap().permissions().mode() & 0o777, 0o755);
}

#[test]
fn no_newline_markers_add_and_remove_the_final_newline() {
    applies(
        b"a\nb",
        "--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n",
        b"a\nb\n",
    );
    applies(
        b"a\nb\n",
        "--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,2 @@\n a\n-b\n+b\n\\ No newline at end of file\n",
        b"a\nb",
    );
}

#[test]
fn already_applied_changes_nothing_and_says_so() {
    let patch = "--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,3 @@\n one\n+one and a half\n two\n";
    let (t, run) = apply(&[("f.txt", ABC)], patch, &[]);
    run.success();
    let once = t.read("tree/f.txt");
    assert_eq!(once, "one\none and a half\ntwo\nthree\nfour\nfive\n");
    t.run(["apply-patch", "--tree", "tree", "p.patch"]).success().stdout_contains("already applied");
    assert_eq!(t.read("tree/f.txt"), once, "a pure addition was added twice");
    // Context only above the addition, at the end of the file.
    let (t, run) = apply(&[("f.txt", b"a\nb\n")], "--- a/f.txt\n+++ b/f.txt\n@@ -2 +2,2 @@\n b\n+c\n", &[]);
    run.success();
    t.run(["apply-patch", "--tree", "tree", "p.patch"]).success().stdout_contains("already applied");
    assert_eq!(t.read("tree/f.txt"), "a\nb\nc\n");
}

#[test]
fn removed_line_not_in_file_is_refused_with_closest_lines() {
    let run = refuses(
        &[("f.txt", ABC)],
        "--- a/f.txt\n+++ b/f.txt\n@@ -2,3 +2,3 @@\n two\n-THREE!\n+3\n four\n",
        "f.txt: hunk 1: the lines it removes are not in the file",
    );
    assert!(run.stderr.contains("   2 | two\n") && run.stderr.contains("   4 | four"), "{}", run.stderr);
    assert!(
        run.stderr.contains(r#"nearest match: line 3 reads "three" where the hunk has "THREE!""#),
        "{}",
        run.stderr
    );
}

#[test]
fn ambiguous_context_refused_without_line_numbers_nearest_wins_with_them() {
    let file = b"start\nx = 1\nend\nstart\nx = 1\nend\n";
    refuses(
        &[("f.txt", file)],
        "--- a/f.txt\n+++ b/f.txt\n@@ @@\n start\n-x = 1\n+x = 2\n",
        "match in 2 places (lines 1, 4)",
    );
    applies(
        file,
        "--- a/f.txt\n+++ b/f.txt\n@@ -5,2 +5,2 @@\n start\n-x = 1\n+x = 2\n",
        b"start\nx = 1\nend\nstart\nx = 2\nend\n",
    );
}

#[test]
fn lines_with_no_context_are_refused_even_with_a_line_number() {
    refuses(&[("f.txt", ABC)], "--- a/f.txt\n+++ b/f.txt\n@@ @@\n+new\n", "no context lines and no line number");
    // A line number alone does not confirm where the lines go.
    refuses(&[("f.txt", ABC)], "--- a/f.txt\n+++ b/f.txt\n@@ -1,0 +2 @@\n+new\n", "a line number alone is not enough");
    // Nor beside another hunk that has context.
    let change = "--- a/f.txt\n+++ b/f.txt\n@@ -2,3 +2,3 @@\n two\n-three\n+THREE\n four\n";
    refuses(
        &[("f.txt", ABC)],
        &format!("{change}@@ -1,0 +2 @@\n+inserted\n"),
        "f.txt: hunk 2: it has no context lines",
    );
}

#[test]
fn patch_for_another_file_is_refused() {
    refuses(
        &[("f.txt", b"alpha\nbeta\ngamma\n")],
        "--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n fn main() {\n-    old();\n+    new();\n }\n",
        "not in the file",
    );
}

#[test]
fn atomic_across_files() {
    let patch = "--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-a\n+A\n--- a/b.txt\n+++ b/b.txt\n@@ -1 +1 @@\n-missing\n+B\n";
    refuses(&[("a.txt", b"a\n"), ("b.txt", b"b\n")], patch, "b.txt: hunk 1");
}

#[test]
fn path_escapes_are_refused_and_nothing_is_written() {
    let outside = tempfile::tempdir().unwrap();
    for (name, why) in [
        ("../evil.txt", "contains `..`"),
        ("/etc/evil.txt", "absolute and outside the tree"),
        (".git/config", "inside .git/"),
        ("out/evil.txt", "leads outside the tree"),
    ] {
        let t = Test::new().file("tree/ok.txt", "ok\n");
        std::os::unix::fs::symlink(outside.path(), t.join("tree/out")).unwrap();
        let before = snapshot(&t.join("tree"));
        // The first file is fine: the escape in the second must stop both.
        let patch = format!(
            r#"{{"operations": [{{"op": "write", "path": "ok.txt", "contents": "changed\n"}}, {{"op": "write", "path": "{name}", "contents": "x"}}]}}"#
        );
        t.write("p.json", patch);
        t.run(["apply-patch", "--tree", "tree", "p.json"]).code(1).stderr_contains(why);
        assert_eq!(snapshot(&t.join("tree")), before, "{name}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0, "{name} wrote outside");
    }
}

#[test]
fn binary_file_is_refused() {
    refuses(&[("f.bin", b"\x00\x01a\nb\n")], "--- a/f.bin\n+++ b/f.bin\n@@ @@\n-a\n+c\n", "binary file");
}

#[test]
fn check_json_strip_stdin_and_no_leftovers() {
    let patch = "--- x/y/f.txt\n+++ x/y/f.txt\n@@ -3 +3 @@\n-three\n+3\n";
    let (t, run) = apply(&[("f.txt", ABC)], patch, &["-p", "2", "--check"]);
    run.success().stdout_contains("modify  f.txt +1 -1").stdout_contains("would apply");
    assert_eq!(t.read("tree/f.txt").as_bytes(), ABC, "--check wrote");
    let report = t.run(["apply-patch", "--tree", "tree", "p.patch", "-p2", "--json"]).success().json();
    assert_eq!(report["outcome"], "applied");
    assert_eq!(report["format"], "unified");
    assert_eq!(report["files"][0]["path"], "f.txt");
    assert_eq!(report["files"][0]["added"], 1);
    assert_eq!(report["files"][0]["matched"], "exact");
    let names: Vec<String> = snapshot(&t.join("tree")).into_keys().collect();
    assert_eq!(names, vec!["f.txt"], "apply-patch left files behind");
    let wrong = "--- f.txt\n+++ f.txt\n@@ -3 +3 @@\n-nine\n+9\n";
    let refused = t.run_stdin(["apply-patch", "--tree", "tree", "-", "--json"], wrong).code(1).json();
    assert_eq!(refused["outcome"], "refused");
    assert_eq!(refused["refusal"]["file"], "f.txt");
    assert_eq!(refused["refusal"]["hunk"], 1);
}

#[test]
fn malformed_patches_are_errors_naming_the_problem() {
    let (_, run) = apply(&[("f.txt", ABC)], "{\"operations\": [{\"op\": \"write\"}]}", &[]);
    run.code(2).stderr_contains("operations[0].path: missing");
    let (_, run) = apply(&[("f.txt", ABC)], "{\"operations\": [", &[]);
    run.code(2).stderr_contains("not valid JSON");
    let (_, run) = apply(&[("f.txt", ABC)], "just some prose\n", &[]);
    run.code(2).stderr_contains("no files in the diff");
    let (_, run) =
        apply(&[("f.txt", ABC)], "--- a/f.txt\n+++ b/f.txt\n@@ -1 +1 @@\n-one\n+1\n", &["--format", "codex"]);
    run.code(2).stderr_contains("Begin Patch");
    let t = Test::new();
    t.run(["apply-patch", "--tree", "nowhere", "missing.diff"]).code(2).stderr_contains("could not read patch");
}

#[test]
fn a_patch_of_many_files_applies_within_a_small_descriptor_limit() {
    use std::os::unix::process::CommandExt;
    const FILES: usize = 600;
    let t = Test::new();
    let mut patch = String::new();
    for i in 0..FILES {
        t.write(&format!("tree/d{}/f{i}.txt", i % 7), "one\ntwo\nthree\n");
        patch.push_str(&format!(
            "--- a/d{d}/f{i}.txt\n+++ b/d{d}/f{i}.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n",
            d = i % 7
        ));
    }
    t.write("p.patch", &patch);
    let mut cmd = t.command(["apply-patch", "--tree", "tree", "p.patch"]);
    // Far fewer descriptors than the patch has files: none may be held per file to the end.
    let limit = libc::rlimit { rlim_cur: 64, rlim_max: 64 };
    // SAFETY: setrlimit is async-signal-safe, and `limit` is a valid rlimit.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        })
    };
    crate::support::Run::from(cmd.output().unwrap()).success();
    for i in 0..FILES {
        assert_eq!(t.read(&format!("tree/d{}/f{i}.txt", i % 7)), "one\nTWO\nthree\n");
    }
}
