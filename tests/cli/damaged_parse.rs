//! Patches damaged the way models damage them, as the parser meets them: cut off by a token
//! limit, headers that contradict each other, `diff -N` epochs in any time zone, marker variants,
//! a whitespace line where a divider was looked for, the same hunk twice. Each rule is checked
//! from both sides: the whole resulting tree where it applies, exit 1 with the tree untouched and
//! a reason the model can act on where it refuses.

use std::collections::BTreeMap;

use crate::apply_direct::{refuses, snapshot};
use crate::support::{Run, Test};

const ABC: &[u8] = b"one\ntwo\nthree\nfour\nfive\n";

/// Apply `patch` to a tree of `files`; the run must succeed and leave exactly `want`.
#[track_caller]
fn gives(files: &[(&str, &[u8])], patch: &str, want: &[(&str, &[u8])]) -> Run {
    let t = Test::new().file("p.patch", patch);
    std::fs::create_dir(t.join("tree")).unwrap();
    for (rel, bytes) in files {
        t.write(&format!("tree/{rel}"), bytes);
    }
    let run = t.run(["apply-patch", "--tree", "tree", "p.patch", "--json"]).success();
    let got: BTreeMap<String, String> = snapshot(&t.join("tree"))
        .into_iter()
        .map(|(p, (bytes, _))| (p, String::from_utf8_lossy(&bytes).into_owned()))
        .collect();
    let want: BTreeMap<String, String> =
        want.iter().map(|(p, b)| (p.to_string(), String::from_utf8_lossy(b).into_owned())).collect();
    assert_eq!(got, want, "{}", run.stdout);
    run
}

fn f(bytes: &[u8]) -> [(&str, &[u8]); 1] {
    [("f.txt", bytes)]
}

// Truncation: unified diffs.

#[test]
fn a_last_hunk_cut_after_its_removed_lines_is_refused() {
    // Hunk 1 is whole; hunk 2 stops after its `-` line, though its header promises more.
    let patch = "--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,2 @@\n-one\n+ONE\n two\n@@ -3,3 +3,3 @@\n three\n-four\n";
    refuses(&f(ABC), patch, "the patch ends in the middle of hunk 2 of f.txt");
    let run = refuses(&f(ABC), patch, "it looks truncated; resend it whole");
    assert!(run.stderr.contains("f.txt: hunk 2:"), "{}", run.stderr);
    // Cut in the middle of an added line: half a line must not land in the file.
    refuses(&f(ABC), "--- a/f.txt\n+++ b/f.txt\n@@ -3,3 +3,3 @@\n three\n-four\n+FO", "hunk 1 of f.txt");
    // A header with no lines after it.
    refuses(
        &f(ABC),
        "--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,2 @@\n-one\n+ONE\n two\n@@ -4,2 +4,2 @@\n",
        "the patch ends in the middle of hunk 2 of f.txt (its header is not followed by any lines)",
    );
    // Cut in the leading context, before any change.
    refuses(&f(ABC), "--- a/f.txt\n+++ b/f.txt\n@@ -1,5 +1,5 @@\n one\n two\n", "it has no `-` or `+` line yet");
    // Cut after the change but inside its trailing context (shorter than the leading context):
    // a line that is there may be followed by more changes the header counts.
    refuses(
        &f(ABC),
        "--- a/f.txt\n+++ b/f.txt\n@@ -1,5 +1,5 @@\n one\n two\n-three\n+THREE\n four\n",
        "it has less context after its change than before",
    );
    // Cut inside the trailing context: both sides still owe lines.
    refuses(
        &f(ABC),
        "--- a/f.txt\n+++ b/f.txt\n@@ -2,4 +2,4 @@\n two\n-three\n+THREE\n four\n",
        "its header promises 1 more line on both sides",
    );
    // Lines appended at the end of the file, cut off after the last context line.
    refuses(
        &f(ABC),
        "--- a/f.txt\n+++ b/f.txt\n@@ -4,2 +4,4 @@\n four\n-five\n+FIVE\n five and a half\n",
        "on its new side",
    );
    // Without counts, a changed last line with no line ending is the cut.
    refuses(&f(ABC), "--- a/f.txt\n+++ b/f.txt\n@@ @@\n three\n-four\n+FO", "stops without a line ending");
}

#[test]
fn a_patch_cut_in_a_file_header_is_refused() {
    let one = "--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,2 @@\n-one\n+ONE\n two\n";
    let files = [("f.txt", ABC), ("g.txt", b"g\n".as_slice())];
    refuses(
        &files,
        &format!("{one}--- a/g.txt\n"),
        "the patch ends in the middle of g.txt (it stops in the file's header",
    );
    refuses(&files, &format!("{one}diff --git a/g.txt b/g.txt\nindex 1234567..89abcde 100644\n"), "g.txt (it stops");
    refuses(&files, &format!("{one}--- a/g.txt\n+++ b/g.txt\n"), "it stops in the file's header");
}

#[test]
fn hunks_visibly_complete_apply_whatever_their_counts() {
    // Counts exactly met, no newline after the last line: complete.
    gives(
        &f(ABC),
        "--- a/f.txt\n+++ b/f.txt\n@@ -4,2 +4,2 @@\n four\n-five\n+FIVE",
        &[("f.txt", b"one\ntwo\nthree\nfour\nFIVE\n")],
    );
    // Counts promise more on one side, but the trailing context is there.
    gives(
        &f(ABC),
        "--- a/f.txt\n+++ b/f.txt\n@@ -2,9 +2,3 @@\n two\n-three\n+THREE\n four\n",
        &[("f.txt", b"one\ntwo\nTHREE\nfour\nfive\n")],
    );
    // Counts promise more, and another file follows.
    let files = [("f.txt", ABC), ("g.txt", b"g\n".as_slice())];
    gives(
        &files,
        "--- a/f.txt\n+++ b/f.txt\n@@ -4,5 +4,5 @@\n four\n-five\n+FIVE\n--- a/g.txt\n+++ b/g.txt\n@@ -1 +1 @@\n-g\n+G\n",
        &[("f.txt", b"one\ntwo\nthree\nfour\nFIVE\n"), ("g.txt", b"G\n")],
    );
    // Counts promise more, and the Markdown fence around the diff closes after it.
    gives(
        &f(ABC),
        "```diff\n--- a/f.txt\n+++ b/f.txt\n@@ -4,5 +4,5 @@\n four\n-five\n+FIVE\n```\n",
        &[("f.txt", b"one\ntwo\nthree\nfour\nFIVE\n")],
    );
    // No counts: removed lines last, with their line ending, delete the end of the file.
    gives(&f(ABC), "--- a/f.txt\n+++ b/f.txt\n@@ @@\n three\n-four\n-five\n", &[("f.txt", b"one\ntwo\nthree\n")]);
    // `\ No newline at end of file` last, counts met.
    gives(
        &f(ABC),
        "--- a/f.txt\n+++ b/f.txt\n@@ -4,2 +4,2 @@\n four\n-five\n+FIVE\n\\ No newline at end of file",
        &[("f.txt", b"one\ntwo\nthree\nfour\nFIVE")],
    );
}

// Truncation: Codex envelopes and SEARCH/REPLACE blocks.

#[test]
fn a_codex_envelope_without_end_patch_is_refused() {
    refuses(
        &f(ABC),
        "*** Begin Patch\n*** Update File: f.txt\n@@ one\n-two\n+TWO\n@@ four\n-five\n",
        "the patch ends in the middle of hunk 2 of f.txt (there is no `*** End Patch` line): it looks truncated",
    );
    refuses(&f(ABC), "*** Begin Patch\n*** Add File: new.txt\n+hello\n+wor", "the middle of new.txt");
    // The same envelope, closed, applies.
    gives(
        &f(ABC),
        "*** Begin Patch\n*** Update File: f.txt\n@@ one\n-two\n+TWO\n@@ four\n-five\n+FIVE\n*** End Patch",
        &[("f.txt", b"one\nTWO\nthree\nfour\nFIVE\n")],
    );
}

#[test]
fn a_search_replace_block_cut_off_is_refused() {
    refuses(&f(ABC), "f.txt\n<<<<<<< SEARCH\ntwo\n=======\nTWO\n", "ends in the middle of hunk 1 of f.txt");
    refuses(&f(ABC), "f.txt\n<<<<<<< SEARCH\ntwo\n", "no `=======` line");
    refuses(
        &f(ABC),
        "f.txt\n<<<<<<< SEARCH\none\n=======\nONE\n>>>>>>> REPLACE\n\n<<<<<<< SEARCH\ntwo\n=======\nTWO\n>>>>>>> REPL",
        "hunk 2 of f.txt (it has no `>>>>>>> REPLACE` line",
    );
    // Cut after opening the fence of the next block.
    refuses(
        &f(ABC),
        "f.txt\n```python\n<<<<<<< SEARCH\ntwo\n=======\nTWO\n>>>>>>> REPLACE\n```\n\ng.py\n```python\n",
        "opening a code fence",
    );
    // A block that never closes before the next one starts: its markers would land in the file.
    refuses(
        &f(ABC),
        "f.txt\n<<<<<<< SEARCH\ntwo\n=======\nTWO\n<<<<<<< SEARCH\nfour\n=======\nFOUR\n>>>>>>> REPLACE\n",
        "starts before this block's `>>>>>>> REPLACE`",
    );
    gives(
        &f(ABC),
        "f.txt\n```\n<<<<<<< SEARCH\ntwo\n=======\nTWO\n>>>>>>> REPLACE\n```",
        &[("f.txt", b"one\nTWO\nthree\nfour\nfive\n")],
    );
}

// `diff -N`: the epoch in any time zone.

#[test]
fn diff_n_epochs_in_any_zone_create_and_delete() {
    let other: &[u8] = b"keep\n";
    let delete = "--- a/f.txt\t2024-03-01 10:00:00.000000000 +0100\n+++ b/f.txt\t1969-12-31 16:00:00.000000000 -0800\n@@ -1,5 +0,0 @@\n-one\n-two\n-three\n-four\n-five\n";
    gives(&[("f.txt", ABC), ("other.txt", other)], delete, &[("other.txt", other)]);
    // Written with spaces instead of the tab.
    let delete = "--- f.txt 2024-03-01 10:00:00 +0100\n+++ f.txt 1970-01-01 05:30:00 +0530\n@@ -1,5 +0,0 @@\n-one\n-two\n-three\n-four\n-five\n";
    gives(&[("f.txt", ABC), ("other.txt", other)], delete, &[("other.txt", other)]);
    let create = "--- new.txt\t1970-01-01 01:00:00.000000000 +0100\n+++ new.txt\t2024-03-01 10:00:00.000000000 +0100\n@@ -0,0 +1,2 @@\n+fresh\n+lines\n";
    gives(&[("other.txt", other)], create, &[("new.txt", b"fresh\nlines\n"), ("other.txt", other)]);
    // A creation is not merged into a file that exists with other content.
    refuses(&[("new.txt", b"already here\n")], create, "the patch creates it, but it already exists");
    // A stamp that is not the epoch deletes nothing: the file is emptied, as the hunk says.
    let emptied = "--- f.txt\t2024-03-01 10:00:00 +0100\n+++ f.txt\t1969-12-31 16:00:00 +0000\n@@ -1,5 +0,0 @@\n-one\n-two\n-three\n-four\n-five\n";
    gives(&f(ABC), emptied, &[("f.txt", b"")]);
}

// Contradictory headers.

#[test]
fn headers_that_contradict_each_other_are_refused() {
    let files = [("f", b"a\n".as_slice()), ("f-blah", b"a\n".as_slice())];
    let run = refuses(
        &files,
        "diff --git a/f b/f\n--- a/f\n+++ b/f-blah\n@@ -1 +1 @@\n-a\n+b\n",
        "the headers contradict each other: `diff --git` names b/f, but `+++` names b/f-blah",
    );
    assert!(run.stderr.contains("resend the diff with headers that agree"), "{}", run.stderr);
    refuses(
        &files,
        "diff --git a/f b/g\nnew file mode 100644\nrename from f\nrename to g\n",
        "`new file mode` says the file is new, but `rename from`/`rename to` say it is moved",
    );
    refuses(&files, "--- b/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n", "the old side is `--- b/f`");
    // Headers that agree, with a rename and with spaces in the names, apply.
    gives(
        &[("my f", b"a\n"), ("x", b"1\n")],
        "diff --git a/my f b/my f\n--- a/my f\n+++ b/my f\n@@ -1 +1 @@\n-a\n+b\ndiff --git a/x b/y\nsimilarity index 50%\nrename from x\nrename to y\n--- a/x\n+++ b/y\n@@ -1 +1 @@\n-1\n+2\n",
        &[("my f", b"b\n"), ("y", b"2\n")],
    );
    // A directory named `b` on the old side of a plain diff is just a name.
    gives(
        &[("b/f", b"a\n"), ("c/f", b"a\n")],
        "--- b/f\n+++ c/f\n@@ -1 +1 @@\n-a\n+b\n",
        &[("b/f", b"b\n"), ("c/f", b"a\n")],
    );
}

// SEARCH/REPLACE markers.

#[test]
fn a_whitespace_line_in_a_search_block_is_content_not_the_divider() {
    let file: &[u8] = b"def f():\n    x = 1\n        \n    return x\n";
    gives(
        &f(file),
        "f.txt\n<<<<<<< SEARCH\n    x = 1\n        \n    return x\n=======\n    x = 2\n        \n    return x\n>>>>>>> REPLACE\n",
        &[("f.txt", b"def f():\n    x = 2\n        \n    return x\n")],
    );
    // With no real divider, the block is refused rather than split at the whitespace line.
    refuses(
        &f(file),
        "f.txt\n<<<<<<< SEARCH\n    x = 1\n        \n    x = 2\n>>>>>>> REPLACE\n",
        "`>>>>>>> REPLACE` comes before the block's `=======` line",
    );
}

#[test]
fn search_replace_marker_variants() {
    let want: &[(&str, &[u8])] = &[("f.txt", b"one\nTWO\nthree\nFOUR\nfive\n")];
    // A stray `>`, dividers of 5 and 9 `=`, markers of 5 and 9, spaces around them.
    gives(
        &f(ABC),
        "f.txt\n<<<<<<< SEARCH>\ntwo\n=====\nTWO\n>>>>>>> REPLACE\n\nf.txt\n<<<<<<<<< SEARCH \nfour\n=========  \nFOUR\n  >>>>> REPLACE\n",
        want,
    );
    // Cline's markers.
    gives(
        &f(ABC),
        "f.txt\n------- SEARCH\ntwo\n=======\nTWO\n+++++++ REPLACE\n------- SEARCH\nfour\n=======\nFOUR\n+++++++ REPLACE\n",
        want,
    );
    // aider's `...` between blocks: the same file, next block.
    gives(
        &f(ABC),
        "f.txt\n```\n<<<<<<< SEARCH\ntwo\n=======\nTWO\n>>>>>>> REPLACE\n```\n...\n```\n<<<<<<< SEARCH\nfour\n=======\nFOUR\n>>>>>>> REPLACE\n```\n",
        want,
    );
    // Ten `=` are not a divider: the block has none.
    refuses(
        &f(ABC),
        "f.txt\n<<<<<<< SEARCH\ntwo\n==========\nTWO\n>>>>>>> REPLACE\n",
        "comes before the block's `=======`",
    );
}

// Codex markers and the shell wrapper.

#[test]
fn codex_markers_with_spaces_and_a_cd_wrapper() {
    gives(
        &f(ABC),
        "  *** Begin Patch \n *** Update File: f.txt  \n@@ four\n-five\n+FIVE\n   *** End of File\n*** Add File: n.txt \n+hi\n *** End Patch",
        &[("f.txt", b"one\ntwo\nthree\nfour\nFIVE\n"), ("n.txt", b"hi\n")],
    );
    let wrapped =
        "cd sub && apply_patch <<'EOF'\n*** Begin Patch\n*** Update File: f.txt\n@@\n-two\n+TWO\n*** End Patch\nEOF\n";
    gives(
        &[("sub/f.txt", ABC), ("f.txt", ABC)],
        wrapped,
        &[("f.txt", ABC), ("sub/f.txt", b"one\nTWO\nthree\nfour\nfive\n")],
    );
    // `sub` cannot lead out of the tree.
    refuses(&f(ABC), &wrapped.replace("cd sub", "cd ../t"), "contains `..`");
    refuses(&f(ABC), &wrapped.replace("cd sub", "cd sub/../.."), "contains `..`");
}

// The same hunk twice.

#[test]
fn the_same_hunk_twice_is_applied_once() {
    let hunk = "@@ -1,2 +1,3 @@\n one\n+one and a half\n two\n";
    let run = gives(
        &f(ABC),
        &format!("--- a/f.txt\n+++ b/f.txt\n{hunk}{hunk}"),
        &[("f.txt", b"one\none and a half\ntwo\nthree\nfour\nfive\n")],
    );
    assert_eq!(run.json()["notes"][0], "f.txt: a hunk given twice was applied once", "{}", run.stdout);
    // The whole file section twice.
    let section = format!("--- a/f.txt\n+++ b/f.txt\n{hunk}");
    gives(&f(ABC), &format!("{section}{section}"), &[("f.txt", b"one\none and a half\ntwo\nthree\nfour\nfive\n")]);
    // A SEARCH/REPLACE block twice, whose new text holds its old text.
    let block = "f.txt\n<<<<<<< SEARCH\nthree\n=======\nthree\nthree and a bit\n>>>>>>> REPLACE\n";
    gives(&f(ABC), &format!("{block}{block}"), &[("f.txt", b"one\ntwo\nthree\nthree and a bit\nfour\nfive\n")]);
    // The same change at two line numbers is two hunks: both apply.
    let file: &[u8] = b"a\nx\nb\na\nx\nb\n";
    gives(
        &f(file),
        "--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n a\n-x\n+y\n b\n@@ -4,3 +4,3 @@\n a\n-x\n+y\n b\n",
        &[("f.txt", b"a\ny\nb\na\ny\nb\n")],
    );
}
