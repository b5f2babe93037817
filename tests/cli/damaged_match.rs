//! Patches damaged the way models damage them, on both sides of each matcher rule: what is
//! applied (the exact bytes it leaves) and what is refused (exit 1, the tree byte-identical, and
//! a reason naming what failed). Lazy placeholders, indentation, ambiguous Codex anchors,
//! "already applied" that is not, hunks with no context, a wrong leading directory, and the
//! refusal's data.

use crate::apply_direct::{apply, refuses};

/// Apply to a tree holding `files`; expect exit 0 and `path` to hold exactly `expected`.
#[track_caller]
fn applies_to(files: &[(&str, &[u8])], patch: &str, path: &str, expected: &str) -> crate::support::Run {
    let (t, run) = apply(files, patch, &["--json"]);
    let run = run.success();
    assert_eq!(t.read(&format!("tree/{path}")), expected);
    run
}

// Lazy placeholders.

const RS: &[u8] = b"fn main() {\n    let a = 1;\n    let b = 2;\n    println!(\"{a} {b}\");\n}\n";

#[test]
fn a_placeholder_standing_for_removed_lines_is_refused() {
    let run = refuses(
        &[("m.rs", RS)],
        "--- a/m.rs\n+++ b/m.rs\n@@ -1,5 +1,4 @@\n fn main() {\n-    let a = 1;\n-    let b = 2;\n+    // ... existing code ...\n     println!(\"{a} {b}\");\n+    done();\n }\n",
        "m.rs: hunk 1: line 4 of the hunk, \"// ... existing code ...\", looks like a placeholder",
    );
    assert!(run.stderr.contains("resend the hunk with the real lines"), "{}", run.stderr);
    refuses(
        &[("m.py", b"def f():\n    a = 1\n    b = 2\n    return a + b\n")],
        "m.py\n<<<<<<< SEARCH\ndef f():\n    a = 1\n    b = 2\n    return a + b\n=======\ndef f():\n    a = 10\n    # rest of the function unchanged\n>>>>>>> REPLACE\n",
        "\"# rest of the function unchanged\", looks like a placeholder",
    );
    refuses(
        &[("m.js", b"function f(x) {\n  a(x);\n  b(x);\n}\n")],
        "*** Begin Patch\n*** Update File: m.js\n@@ function f(x) {\n-  a(x);\n-  b(x);\n+  ...\n+  c(x);\n*** End Patch\n",
        "\"...\", looks like a placeholder",
    );
    refuses(
        &[("m.js", b"function f(x) {\n  a(x);\n}\n")],
        r#"{"operations": [{"op": "replace", "path": "m.js", "search": "  a(x);\n", "replace": "  /* ... */\n  c(x);\n"}]}"#,
        "line 1 of the replacement, \"/* ... */\", looks like a placeholder",
    );
}

#[test]
fn real_code_that_looks_like_a_placeholder_is_applied() {
    // Python's `...` as a statement body.
    applies_to(
        &[("m.py", b"class P:\n    def f(self):\n        return 1\n")],
        "--- a/m.py\n+++ b/m.py\n@@ -1,3 +1,3 @@\n class P:\n     def f(self):\n-        return 1\n+        ...\n",
        "m.py",
        "class P:\n    def f(self):\n        ...\n",
    );
    // A spread and Rust's rest pattern.
    applies_to(
        &[("m.js", b"function f(...args) {\n  g(args);\n}\n")],
        "--- a/m.js\n+++ b/m.js\n@@ -1,3 +1,3 @@\n function f(...args) {\n-  g(args);\n+  g(\n+    ...args\n+  );\n }\n",
        "m.js",
        "function f(...args) {\n  g(\n    ...args\n  );\n}\n",
    );
    applies_to(
        &[("m.rs", b"let P { a, b } = p;\n")],
        "--- a/m.rs\n+++ b/m.rs\n@@ -1 +1,4 @@\n-let P { a, b } = p;\n+let P {\n+    a,\n+    ..\n+} = p;\n",
        "m.rs",
        "let P {\n    a,\n    ..\n} = p;\n",
    );
    // The same comment already in the old text, and one added without removing anything.
    let commented: &[u8] = b"fn f() {\n    // ...\n    a();\n}\n";
    applies_to(
        &[("m.rs", commented)],
        "--- a/m.rs\n+++ b/m.rs\n@@ -1,4 +1,4 @@\n fn f() {\n-    // ...\n-    a();\n+    // ...\n+    b();\n }\n",
        "m.rs",
        "fn f() {\n    // ...\n    b();\n}\n",
    );
    applies_to(
        &[("m.rs", b"fn f() {\n    a();\n}\n")],
        "--- a/m.rs\n+++ b/m.rs\n@@ -1,3 +1,4 @@\n fn f() {\n     a();\n+    // ...\n }\n",
        "m.rs",
        "fn f() {\n    a();\n    // ...\n}\n",
    );
}

// Indentation.

#[test]
fn spaces_in_the_patch_become_the_files_tabs_and_widths() {
    let go: &[u8] = b"package m\n\nfunc f(a int) int {\n\tif a > 0 {\n\t\treturn a\n\t}\n\treturn 0\n}\n";
    let patch = "--- a/m.go\n+++ b/m.go\n@@ -3,5 +3,8 @@\n func f(a int) int {\n     if a > 0 {\n-        return a\n+        if a > 9 {\n+            return 9\n+        }\n+        return a\n     }\n     return 0\n";
    let run = applies_to(
        &[("m.go", go)],
        patch,
        "m.go",
        "package m\n\nfunc f(a int) int {\n\tif a > 0 {\n\t\tif a > 9 {\n\t\t\treturn 9\n\t\t}\n\t\treturn a\n\t}\n\treturn 0\n}\n",
    );
    assert_eq!(run.json()["files"][0]["matched"], "fuzzy-whitespace");
    let py: &[u8] = b"class C:\n    def f(self):\n        if self.a:\n            return 1\n        return 0\n";
    let patch = "--- a/m.py\n+++ b/m.py\n@@ -2,4 +2,6 @@\n   def f(self):\n     if self.a:\n-      return 1\n+      if self.b:\n+        return 2\n+      return 1\n     return 0\n";
    applies_to(
        &[("m.py", py)],
        patch,
        "m.py",
        "class C:\n    def f(self):\n        if self.a:\n            if self.b:\n                return 2\n            return 1\n        return 0\n",
    );
}

#[test]
fn one_level_of_context_is_read_by_the_files_own_indentation_step() {
    // 2 spaces against 4 on one level: a shift would put the nested line at 6, which a file
    // indented by 4 never does; so it is a width, and the nested line goes to 8.
    applies_to(
        &[("m.py", b"def f():\n    a()\n    b()\n")],
        "--- a/m.py\n+++ b/m.py\n@@ -2,2 +2,3 @@\n   a()\n-  b()\n+  if c:\n+    d()\n",
        "m.py",
        "def f():\n    a()\n    if c:\n        d()\n",
    );
}

#[test]
fn added_lines_under_context_at_the_margin_must_follow_the_files_indentation() {
    let rs: &[u8] = b"fn a() {\n    x();\n}\n";
    refuses(
        &[("m.rs", rs)],
        "--- a/m.rs\n+++ b/m.rs\n@@ -3 +3,4 @@\n }\n+fn b() {\n+  y();\n+}\n",
        "its added lines are indented by 2 spaces a level where the file uses 4",
    );
    applies_to(
        &[("m.rs", rs)],
        "--- a/m.rs\n+++ b/m.rs\n@@ -3 +3,4 @@\n }\n+fn b() {\n+    y();\n+}\n",
        "m.rs",
        "fn a() {\n    x();\n}\nfn b() {\n    y();\n}\n",
    );
}

#[test]
fn indentation_with_no_consistent_mapping_is_refused() {
    // One context line says 2 spaces are a tab, the next that 4 spaces are 2.
    refuses(
        &[("f.txt", b"x\n\ty\n  z\n")],
        "--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n x\n   y\n-    z\n+    Z\n",
        "its indentation does not map onto the file's",
    );
    // One level of context, in a file with no indentation habit of its own: a shift by one
    // space and a halved width disagree on the deeper line.
    refuses(
        &[("f.txt", b"x:\n a()\n b()\n")],
        "--- a/f.txt\n+++ b/f.txt\n@@ -2,2 +2,3 @@\n   a()\n-  b()\n+  if c:\n+    d()\n",
        "does not say how to indent its added line \"d()\"",
    );
}

// Ambiguous Codex anchors.

const TWICE: &[u8] = b"class A:\n    def f(self):\n        return 1\nclass B:\n    def f(self):\n        return 1\n";

#[test]
fn an_anchor_found_twice_with_nothing_to_choose_is_refused() {
    refuses(
        &[("m.py", TWICE)],
        "*** Begin Patch\n*** Update File: m.py\n@@     def f(self):\n-        return 1\n+        return 2\n*** End Patch\n",
        "its anchor `@@ def f(self):` occurs 2 times (lines 2, 5)",
    );
}

#[test]
fn an_outer_anchor_or_the_chunks_context_chooses() {
    applies_to(
        &[("m.py", TWICE)],
        "*** Begin Patch\n*** Update File: m.py\n@@ class B:\n@@     def f(self):\n-        return 1\n+        return 2\n*** End Patch\n",
        "m.py",
        "class A:\n    def f(self):\n        return 1\nclass B:\n    def f(self):\n        return 2\n",
    );
    let differ: &[u8] = b"def f():\n    a = 1\n    return a\ndef f():\n    b = 1\n    return b\n";
    applies_to(
        &[("m.py", differ)],
        "*** Begin Patch\n*** Update File: m.py\n@@ def f():\n     b = 1\n-    return b\n+    return b + 1\n*** End Patch\n",
        "m.py",
        "def f():\n    a = 1\n    return a\ndef f():\n    b = 1\n    return b + 1\n",
    );
}

#[test]
fn repeated_context_far_from_its_line_number_is_refused() {
    let twice = format!("start\nx = 1\nend\n{}start\nx = 1\nend\n", "filler\n".repeat(20));
    let patch = |n: usize| format!("--- a/f.txt\n+++ b/f.txt\n@@ -{n},2 +{n},2 @@\n start\n-x = 1\n+x = 2\n");
    refuses(&[("f.txt", twice.as_bytes())], &patch(12), "its lines match in 2 places (lines 1, 24)");
    let want = format!("start\nx = 1\nend\n{}start\nx = 2\nend\n", "filler\n".repeat(20));
    applies_to(&[("f.txt", twice.as_bytes())], &patch(22), "f.txt", &want);
}

#[test]
fn an_anchor_an_earlier_chunk_went_past_stays_passed() {
    applies_to(
        &[("m.py", b"def f():\n    a = 1\n    b = 2\n    c = 3\n")],
        "*** Begin Patch\n*** Update File: m.py\n@@ def f():\n-    a = 1\n+    a = 10\n@@ def f():\n-    c = 3\n+    c = 30\n*** End Patch\n",
        "m.py",
        "def f():\n    a = 10\n    b = 2\n    c = 30\n",
    );
}

// SEARCH/REPLACE blocks: lines the replacement repeats are the file's.

#[test]
fn a_blocks_repeated_lines_keep_the_files_whitespace() {
    // The SEARCH text has a stray space on a line it does not change; the REPLACE repeats it.
    applies_to(
        &[("m.rs", b"fn f() {\n    a(1);\n    b();\n}\n")],
        "m.rs\n<<<<<<< SEARCH\nfn f() {\n    a(1);\n     b();\n}\n=======\nfn f() {\n    a(2);\n     b();\n}\n>>>>>>> REPLACE\n",
        "m.rs",
        "fn f() {\n    a(2);\n    b();\n}\n",
    );
    // Applied, it is found applied, though a line like the one it replaced follows it.
    let (t, run) = apply(
        &[("m.py", b"x = 1\ny = 2\nz = 3\ny = 3\n")],
        "m.py\n<<<<<<< SEARCH\nx = 1\ny = 1\nz = 3\n=======\nx = 1\ny = 2\nz = 3\n>>>>>>> REPLACE\n",
        &[],
    );
    run.success().stdout_contains("already applied");
    assert_eq!(t.read("tree/m.py"), "x = 1\ny = 2\nz = 3\ny = 3\n");
}

// "Already applied" only where the hunk applied would be.

#[test]
fn removed_lines_still_there_are_not_already_applied() {
    // Hunk 2 removes f and g after e; g changed slightly, so its old side is not found, and e
    // alone (its new side) is not at the end of the file, where its context puts it.
    let file: &[u8] = b"a\nb\nc\nd\ne\nf\ng!\nh\n";
    let patch = "--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,2 @@\n-a\n+A\n b\n@@ -5,3 +5,1 @@\n e\n-f\n-g\n";
    refuses(
        &[("f.txt", file)],
        patch,
        "f.txt: hunk 2: its old lines are not in the file, and its new lines, found at line 5, are not the hunk applied",
    );
    // Codex, no line numbers: the line it removes is right after its context, changed.
    refuses(
        &[("m.py", b"x = 1\ny = 3\nz = 4\n")],
        "*** Begin Patch\n*** Update File: m.py\n@@\n x = 1\n-y = 2\n*** End Patch\n",
        "the lines it removes are still there beside them",
    );
}

#[test]
fn a_hunk_whose_new_side_ends_the_file_is_already_applied() {
    let (t, run) = apply(&[("f.txt", b"a\nb\nc\n")], "--- a/f.txt\n+++ b/f.txt\n@@ -2,3 +2,1 @@\n c\n-d\n-e\n", &[]);
    run.success().stdout_contains("already applied");
    assert_eq!(t.read("tree/f.txt"), "a\nb\nc\n");
    // An addition found in the middle of the file, where its context says the end.
    refuses(
        &[("f.txt", b"a\nb\nc\nd\n")],
        "--- a/f.txt\n+++ b/f.txt\n@@ -2,1 +2,2 @@\n b\n+c\n",
        "it belongs at the end of the file",
    );
}

// Hunks with no context.

#[test]
fn a_hunk_with_no_context_is_refused_on_a_file_with_lines() {
    let patch = "--- a/utils.py\n+++ b/utils.py\n@@ -0,0 +1,2 @@\n+import os\n+import sys\n";
    refuses(
        &[("utils.py", b"def f():\n    pass\n")],
        patch,
        "utils.py: hunk 1: it has no context lines or removed lines",
    );
    // The file is created, or filled when empty; run again, it is already there.
    let (t, run) = apply(&[], patch, &[]);
    run.success();
    assert_eq!(t.read("tree/utils.py"), "import os\nimport sys\n");
    t.run(["apply-patch", "--tree", "tree", "p.patch"]).success().stdout_contains("already applied");
    applies_to(&[("utils.py", b"")], patch, "utils.py", "import os\nimport sys\n");
    let loose = "--- /dev/null\n+++ b/new.py\n@@ -1 +1,2 @@\n+import os\n+import sys\n";
    applies_to(&[], loose, "new.py", "import os\nimport sys\n");
    // Past the end is refused, not clamped.
    refuses(&[("utils.py", b"")], "--- a/utils.py\n+++ b/utils.py\n@@ -5,0 +6 @@\n+x\n", "past the end of the file");
}

#[test]
fn a_codex_chunk_of_added_lines_without_an_anchor_goes_at_the_end() {
    applies_to(
        &[("input.txt", b"line1\nline2\n")],
        "*** Begin Patch\n*** Update File: input.txt\n@@\n+added line 1\n+added line 2\n*** End Patch\n",
        "input.txt",
        "line1\nline2\nadded line 1\nadded line 2\n",
    );
}

// A wrong leading directory.

#[test]
fn a_wrong_leading_directory_is_corrected_when_one_file_fits() {
    let files: &[(&str, &[u8])] =
        &[("src/server.rs", b"fn serve() {\n    listen();\n}\n"), ("target/server.rs", b"x\n")];
    let run = applies_to(
        files,
        "--- a/server.rs\n+++ b/server.rs\n@@ -1,3 +1,3 @@\n fn serve() {\n-    listen();\n+    listen(8080);\n }\n",
        "src/server.rs",
        "fn serve() {\n    listen(8080);\n}\n",
    );
    let report = run.json();
    assert_eq!(report["files"][0]["path"], "src/server.rs");
    assert_eq!(report["files"][0]["matched"], "path corrected from server.rs, exact");
    assert_eq!(report["files"].as_array().unwrap().len(), 1);
    applies_to(
        &[("lib/x.js", b"a();\n")],
        "--- a/app/lib/x.js\n+++ b/app/lib/x.js\n@@ -1 +1 @@\n-a();\n+b();\n",
        "lib/x.js",
        "b();\n",
    );
}

#[test]
fn several_candidates_or_one_that_does_not_match_are_refused() {
    let patch = "--- a/x.js\n+++ b/x.js\n@@ -1 +1 @@\n-a();\n+b();\n";
    refuses(
        &[("lib/x.js", b"a();\n"), ("src/x.js", b"a();\n")],
        patch,
        "2 files end with its path: lib/x.js, src/x.js",
    );
    refuses(
        &[("lib/x.js", b"c();\n")],
        patch,
        "x.js: hunk 1: it does not exist in the tree, and lib/x.js, the only file ending with its path, does not match",
    );
}

// Reasons the model can act on.

#[test]
fn a_refusal_names_the_line_that_failed_as_data() {
    let (_, run) = apply(
        &[("f.txt", b"one\ntwo\nthree\nfour\n")],
        "--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n one\n TWO!\n-three\n+3\n",
        &["--json"],
    );
    let report = run.code(1).json();
    let r = &report["refusal"];
    assert_eq!(r["file"], "f.txt");
    assert_eq!(r["hunk"], 1);
    assert_eq!((r["line"].as_u64(), r["hunk_line"].as_u64()), (Some(2), Some(2)));
    assert_eq!((r["expected"].as_str(), r["found"].as_str()), (Some("TWO!"), Some("two")));
    assert!(r["reason"].as_str().unwrap().starts_with("its context lines are not in the file"), "{r}");
    assert_eq!(r["closest"][1], "   2 | two");
}

#[test]
fn deleting_a_file_that_is_not_there_leaves_a_trace() {
    let (t, run) =
        apply(&[("a.txt", b"a\n")], "*** Begin Patch\n*** Delete File: nope.txt\n*** End Patch\n", &["--json"]);
    let report = run.success().json();
    assert_eq!(report["outcome"], "already-applied");
    assert_eq!(report["files"][0]["path"], "nope.txt");
    assert_eq!(report["files"][0]["action"], "delete");
    assert_eq!(report["files"][0]["matched"], "already-deleted");
    assert_eq!(t.read("tree/a.txt"), "a\n");
}
