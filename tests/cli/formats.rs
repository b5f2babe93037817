//! Every patch format, detected and forced, applied to the same small tree, with the whole
//! resulting tree compared byte for byte (and mode for mode).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use crate::apply_direct::snapshot;
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
    let path = format!("{}/tests/fixtures/patches/{fixture}", env!("CARGO_MANIFEST_DIR"));
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
