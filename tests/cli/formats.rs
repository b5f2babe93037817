//! Every patch format, detected and forced, applied to the same small tree, with the whole
//! resulting tree compared byte for byte (and mode for mode).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use crate::apply_direct::{apply, refuses, snapshot};
use crate::support::Test;

const GREET: &str =
    "def greet(name):\n    return \"hello \" + name\n\n\ndef main():\n    # entry point\n    print(greet(\"world\"))\n";
const UTIL: &str = "def helper():\n    return 42\n";
const RUN: &str = "#!/bin/sh\necho run\n";

/// The tree every fixture is written against, and the fixture copied in.
fn tree(fixture: &str) -> Test {
    let t = Test::new()
        .file("tree/src/greet.py", GREET)
        .file("tree/src/util.py", UTIL)
        .file("tree/old.txt", "obsolete\n")
        .file("tree/run.sh", RUN);
    for f in ["src/greet.py", "src/util.py", "old.txt", "run.sh"] {
        std::fs::set_permissions(t.join(&format!("tree/{f}")), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let path = format!("{}/tests/cli/support/patches/{fixture}", env!("CARGO_MANIFEST_DIR"));
    t.write(fixture, std::fs::read(&path).unwrap());
    t
}

/// Apply the fixture; the tree must then hold exactly `files` (path, content, mode).
#[track_caller]
fn check(fixture: &str, format: &str, files: &[(&str, &str, u32)]) {
    let t = tree(fixture);
    let report = t.run(["apply-patch", "--tree", "tree", fixture, "--json"]).success().json();
    assert_eq!(report["outcome"], "applied", "{report}");
    assert_eq!(report["format"], format);
    let want: BTreeMap<String, (Vec<u8>, u32)> =
        files.iter().map(|(p, c, m)| (p.to_string(), (c.as_bytes().to_vec(), *m))).collect();
    let got = snapshot(&t.join("tree"));
    for (path, (bytes, mode)) in &want {
        let (gb, gm) = got.get(path).unwrap_or_else(|| panic!("{path} missing; tree: {:?}", got.keys()));
        assert_eq!(String::from_utf8_lossy(gb), String::from_utf8_lossy(bytes), "{path}");
        assert_eq!(format!("{gm:o}"), format!("{mode:o}"), "mode of {path}");
    }
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    // A second run finds everything in place.
    let again = t.run(["apply-patch", "--tree", "tree", fixture, "--json"]).success().json();
    assert_eq!(again["outcome"], "already-applied", "{again}");
    assert_eq!(snapshot(&t.join("tree")), got);
}

fn greet_with(ret: &str, extra: &str) -> String {
    GREET.replace("    return \"hello \" + name", ret) + extra
}

const NOTES: &str = "# Notes\nWritten by a patch.\n";

#[test]
fn unified_git_with_new_deleted_renamed_and_mode_changes() {
    let greet = greet_with("    return \"HELLO \" + name.upper()", "    print(greet(\"runner\"))\n");
    let files = [
        ("notes.md", NOTES, 0o644),
        ("run.sh", RUN, 0o755),
        ("src/greet.py", greet.as_str(), 0o644),
        ("src/helpers.py", "def helper(x=None):\n    return 42\n", 0o644),
    ];
    check("unified-git.diff", "unified", &files);
    check("envelope-diff.json", "json", &files);
}

#[test]
fn unified_plain_diff_r_n_with_strip() {
    let t = tree("unified-plain.diff");
    t.run(["apply-patch", "--tree", "tree", "unified-plain.diff", "-p1"]).success();
    assert_eq!(t.read("tree/src/greet.py"), greet_with("    return \"hi \" + name", ""));
    assert_eq!(t.read("tree/added.txt"), "fresh\n");
    assert!(!t.exists("tree/old.txt"));
}

#[test]
fn codex_envelope_with_anchors_end_of_file_move_and_delete() {
    let greet = greet_with("    return \"hey \" + name", "").replace("\"world\"", "\"codex\"");
    let files = [
        ("notes.md", NOTES, 0o644),
        ("run.sh", RUN, 0o644),
        ("src/greet.py", greet.as_str(), 0o644),
        ("src/helpers.py", "def helper(x=None):\n    return 42\n", 0o644),
    ];
    check("codex.patch", "codex", &files);
    check("envelope-codex.json", "json", &files);
}

#[test]
fn search_replace_blocks() {
    let greet = greet_with("    return \"good day, \" + name", "");
    check(
        "search-replace.md",
        "search-replace",
        &[
            ("notes.md", "# Notes\n", 0o644),
            ("old.txt", "obsolete\n", 0o644),
            ("run.sh", RUN, 0o644),
            ("src/greet.py", greet.as_str(), 0o644),
            ("src/util.py", "def helper():\n    \"\"\"The answer.\"\"\"\n    return 42\n", 0o644),
        ],
    );
}

#[test]
fn envelope_operations() {
    let greet = greet_with("    return \"hello, \" + name", "");
    check(
        "envelope-operations.json",
        "json",
        &[
            ("notes.md", "# Notes\n", 0o644),
            ("run.sh", RUN, 0o755),
            ("src/greet.py", greet.as_str(), 0o600),
            ("src/helpers.py", "def helper_version_2():\n    return 42\n", 0o644),
        ],
    );
}

#[test]
fn legacy_shapes() {
    let greet = greet_with("    return f\"hello {name}\"", "");
    let t = tree("legacy-regex.json");
    let report = t.run(["apply-patch", "--tree", "tree", "legacy-regex.json", "--json"]).success().json();
    assert_eq!(report["format"], "legacy");
    assert_eq!(t.read("tree/src/greet.py"), greet);
    let block = [
        ("notes.md", "# Notes\n", 0o644),
        ("run.sh", RUN, 0o755),
        ("src/greet.py", GREET, 0o644),
        ("src/util.py", UTIL, 0o644),
    ];
    check("legacy-mutations.json", "legacy", &block);
    check("legacy-wrapped.json", "legacy", &block);
}

#[test]
fn format_can_be_forced() {
    let t = tree("codex.patch");
    t.run(["apply-patch", "--tree", "tree", "codex.patch", "--format", "unified"])
        .code(2)
        .stderr_contains("before any file header");
    t.run(["apply-patch", "--tree", "tree", "codex.patch", "--format", "codex", "--check"])
        .success()
        .stdout_contains("would apply cleanly (codex, 5 files)");
}

#[test]
fn codex_and_search_replace_refuse_what_they_cannot_place() {
    let twice: &[u8] = b"fn a() {\n    x();\n}\nfn b() {\n    x();\n}\n";
    let files = [("f.rs", twice)];
    refuses(
        &files,
        "*** Begin Patch\n*** Update File: f.rs\n@@\n-    x();\n+    y();\n*** End Patch\n",
        "match in 2 places",
    );
    refuses(&files, "f.rs\n<<<<<<< SEARCH\n    x();\n=======\n    y();\n>>>>>>> REPLACE\n", "match in 2 places");
    refuses(
        &files,
        "*** Begin Patch\n*** Update File: f.rs\n@@ fn c() {\n-    x();\n+    y();\n*** End Patch\n",
        "anchor `@@ fn c() {`",
    );
    // The anchor picks the second function; `*** End of File` pins a chunk to the end.
    let (t, run) = apply(
        &files,
        "*** Begin Patch\n*** Update File: f.rs\n@@ fn b() {\n-    x();\n+    y();\n*** End Patch\n",
        &[],
    );
    run.success();
    assert_eq!(t.read("tree/f.rs"), "fn a() {\n    x();\n}\nfn b() {\n    y();\n}\n");
    let (t, run) = apply(
        &files,
        "*** Begin Patch\n*** Update File: f.rs\n@@\n-    x();\n-}\n+    z();\n+}\n*** End of File\n*** End Patch\n",
        &[],
    );
    run.success();
    assert_eq!(t.read("tree/f.rs"), "fn a() {\n    x();\n}\nfn b() {\n    z();\n}\n");
}

#[test]
fn operations_refuse_what_they_cannot_do_exactly() {
    let files: &[(&str, &[u8])] = &[("a.txt", b"x x\nword\n"), ("b.txt", b"b\n")];
    let op = |json: &str| format!(r#"{{"operations": [{json}]}}"#);
    refuses(
        files,
        &op(r#"{"op": "replace", "path": "a.txt", "search": "x", "replace": "y"}"#),
        "occurs 2 times, not 1",
    );
    refuses(
        files,
        &op(r#"{"op": "regex", "path": "a.txt", "pattern": "x", "replacement": "y", "count": 3}"#),
        "matches 2 times, not 3",
    );
    refuses(
        files,
        &op(r#"{"op": "regex", "path": "a.txt", "pattern": "\\bq?", "replacement": "y"}"#),
        "empty string at line 1",
    );
    refuses(files, &op(r#"{"op": "regex", "path": "a.txt", "pattern": "zzz", "replacement": "y"}"#), "matches nothing");
    refuses(files, &op(r#"{"op": "create", "path": "b.txt", "contents": "other\n"}"#), "already exists");
    refuses(files, &op(r#"{"op": "move", "path": "a.txt", "to": "b.txt"}"#), "already exists");
    refuses(files, &op(r#"{"op": "move", "path": "c.txt", "to": "d.txt"}"#), "does not exist");
    refuses(files, &op(r#"{"op": "chmod", "path": "c.txt", "mode": "755"}"#), "does not exist");
    refuses(files, &op(r#"{"op": "replace", "path": "c.txt", "search": "x", "replace": "y"}"#), "does not exist");
    let run = refuses(
        files,
        &op(r#"{"op": "replace", "path": "a.txt", "search": "x x\nwrod\n", "replace": "y"}"#),
        "operation 1: the search text is not in the file",
    );
    assert!(
        run.stderr.contains(r#"nearest match: line 2 reads "word" where the search text has "wrod""#),
        "{}",
        run.stderr
    );
    // `count` replaces every occurrence when there are exactly that many.
    let (t, run) =
        apply(files, &op(r#"{"op": "replace", "path": "a.txt", "search": "x", "replace": "y", "count": 2}"#), &[]);
    run.success();
    assert_eq!(t.read("tree/a.txt"), "y y\nword\n");
}

#[test]
fn replace_in_a_crlf_file_keeps_crlf() {
    let files: &[(&str, &[u8])] = &[("w.txt", b"one\r\ntwo\r\nthree\r\n")];
    let (t, run) = apply(
        files,
        r#"{"operations": [{"op": "replace", "path": "w.txt", "search": "one\ntwo\n", "replace": "1\n2\n2b\n"}]}"#,
        &[],
    );
    run.success();
    assert_eq!(std::fs::read(t.join("tree/w.txt")).unwrap(), b"1\r\n2\r\n2b\r\nthree\r\n");
}

#[test]
fn codex_anchor_repeated_as_first_context_line_is_that_line() {
    let same: &[u8] = b"fn f() {\n    x();\n}\nfn g() {\n    x();\n}\n";
    let patch = "*** Begin Patch\n*** Update File: f.rs\n@@ fn f() {\n fn f() {\n-    x();\n+    w();\n*** End Patch\n";
    let (t, run) = apply(&[("f.rs", same)], patch, &[]);
    run.success();
    assert_eq!(t.read("tree/f.rs"), "fn f() {\n    w();\n}\nfn g() {\n    x();\n}\n");
}
