//! The property test: random files (with repeated lines, so context is often ambiguous without
//! the line numbers), random edits, `diff -u` between them, and the diff applied back through
//! `patch::parse` + `patch::plan` must give the edited bytes exactly. Seeded, so a failure
//! names the case that reproduces it.

use std::path::Path;
use std::process::Command;

use runner::testing::{Fence, Limits, parse, plan};

use crate::support::Rng;

/// Lines that recur (braces, blank lines, a common statement) and lines that do not.
fn random_line(rng: &mut Rng, fresh: &mut usize) -> String {
    const COMMON: [&str; 5] = ["}", "", "    return x;", "{", "    x += 1;"];
    if rng.below(3) == 0 {
        *fresh += 1;
        format!("line {fresh} {}", rng.next() % 1000)
    } else {
        COMMON[rng.below(COMMON.len())].to_string()
    }
}

fn join(lines: &[String], eol: &str, final_newline: bool) -> Vec<u8> {
    let mut text = lines.join(eol);
    if final_newline && !lines.is_empty() {
        text.push_str(eol);
    }
    text.into_bytes()
}

/// One random case: the file before and after, and `diff -u` between them (empty: no change).
struct Case {
    before: Vec<u8>,
    after: Vec<u8>,
    diff: Vec<u8>,
}

fn case(n: u64, dir: &Path) -> Case {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (n + 1).wrapping_mul(0x1000_0001));
    let mut fresh = 0;
    let eol = if rng.below(5) == 0 { "\r\n" } else { "\n" };
    let old: Vec<String> = (0..rng.below(80)).map(|_| random_line(&mut rng, &mut fresh)).collect();
    let mut new = old.clone();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(new.len() + 1);
        match rng.below(3) {
            // Inserted and changed lines are new text: a line equal to its neighbours would make
            // "already applied" undecidable, for any tool.
            0 => {
                for _ in 0..1 + rng.below(3) {
                    fresh += 1;
                    new.insert(at, format!("added {fresh}"));
                }
            }
            1 if at < new.len() => {
                let n = (1 + rng.below(3)).min(new.len() - at);
                new.drain(at..at + n);
            }
            _ if at < new.len() => {
                fresh += 1;
                new[at] = format!("changed {fresh}");
            }
            _ => {}
        }
    }
    let old_final = rng.below(6) != 0;
    let new_final = if rng.below(6) == 0 { !old_final } else { old_final };
    let (before, after) = (join(&old, eol, old_final), join(&new, eol, new_final));
    std::fs::write(dir.join("old.txt"), &before).unwrap();
    std::fs::write(dir.join("new.txt"), &after).unwrap();
    let context = ["-U1", "-U2", "-U3", "-U5"][rng.below(4)];
    let out = Command::new("diff")
        .args([context, "--label", "a/f.txt", "--label", "b/f.txt"])
        .arg(dir.join("old.txt"))
        .arg(dir.join("new.txt"))
        .output()
        .expect("run diff (diffutils)");
    Case { before, after, diff: out.stdout }
}

/// Plan `diff` against a tree holding `before` in f.txt; the bytes it would write.
fn plan_bytes(tree: &Path, before: &[u8], diff: &[u8]) -> Result<Vec<u8>, String> {
    std::fs::write(tree.join("f.txt"), before).unwrap();
    let fence = Fence::new(tree, &[]).unwrap();
    let parsed = parse(diff, None, None).map_err(|e| format!("parse: {e:#}"))?;
    let plan = plan(&parsed, &fence, &Limits::default()).map_err(|r| format!("refused: {r}"))?;
    Ok(plan.files.first().and_then(|f| f.after.as_ref()).map(|s| s.bytes.clone()).unwrap_or_else(|| before.to_vec()))
}

/// Run `check` on every case with a change, with a scratch tree to plan against.
fn each_case(mut check: impl FnMut(u64, &Case, &Path)) {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    for n in 0..300u64 {
        let c = case(n, dir.path());
        if !c.diff.is_empty() {
            check(n, &c, &tree);
        }
    }
}

/// Plan a variant of the case's diff: it must give exactly the edited bytes, or be refused.
/// Returns whether it applied.
fn right_or_refused(n: u64, c: &Case, tree: &Path, diff: &str) -> bool {
    match plan_bytes(tree, &c.before, diff.as_bytes()) {
        Ok(got) => {
            assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&c.after), "case {n}\n{diff}");
            true
        }
        Err(e) => {
            assert!(e.contains("refused"), "case {n}: {e}");
            false
        }
    }
}

#[test]
fn random_edits_diffed_and_applied_back_give_the_same_bytes() {
    let mut applied = 0;
    each_case(|n, c, tree| {
        let shown = String::from_utf8_lossy(&c.diff);
        let got = plan_bytes(tree, &c.before, &c.diff).unwrap_or_else(|e| panic!("case {n}: {e}\n{shown}"));
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&c.after), "case {n}\n{shown}");
        // Applied once more, it is already there: nothing changes.
        let again = plan_bytes(tree, &got, &c.diff).unwrap_or_else(|e| panic!("case {n}, second run: {e}\n{shown}"));
        assert_eq!(
            String::from_utf8_lossy(&again),
            String::from_utf8_lossy(&c.after),
            "case {n} applied twice\n{shown}"
        );
        applied += 1;
    });
    assert!(applied > 250, "only {applied} cases produced a diff");
}

/// Without line numbers (`@@ @@`, as models often write) the matcher may refuse as ambiguous,
/// but whatever it applies must be exactly right: never a guess.
#[test]
fn without_line_numbers_it_applies_right_or_refuses() {
    let header = regex::Regex::new(r"(?m)^@@ .* @@$").unwrap();
    let mut applied = 0;
    each_case(|n, c, tree| {
        let bare = header.replace_all(&String::from_utf8_lossy(&c.diff), "@@ @@").into_owned();
        applied += usize::from(right_or_refused(n, c, tree, &bare));
    });
    assert!(applied > 250, "only {applied} applied");
}

/// A model's copy of the file is seldom exact: trailing spaces on context and removed lines, a
/// CRLF patch, blank context lines without their space. Such a diff gives the same bytes, or is
/// refused; it never applies elsewhere.
#[test]
fn sloppy_whitespace_applies_right_or_refuses() {
    let mut applied = 0;
    each_case(|n, c, tree| {
        let mut rng = Rng(n + 7);
        let eol = if rng.below(3) == 0 { "\r\n" } else { "\n" };
        let sloppy: Vec<String> = String::from_utf8_lossy(&c.diff)
            .lines()
            .map(|l| match l.chars().next() {
                Some(' ') if l.trim().is_empty() && rng.below(2) == 0 => String::new(),
                Some(' ' | '-') if !l.starts_with("---") && rng.below(3) == 0 => format!("{l}  "),
                _ => l.to_string(),
            })
            .collect();
        applied += usize::from(right_or_refused(n, c, tree, &(sloppy.join(eol) + eol)));
    });
    assert!(applied > 250, "only {applied} applied");
}

/// Garbage built from the formats' own tokens never panics the parser or the planner: it is
/// parsed or rejected, then applied or refused.
#[test]
fn patch_shaped_garbage_never_panics() {
    const TOKENS: [&str; 24] = [
        "diff --git a/f.txt b/f.txt",
        "--- a/f.txt",
        "+++ b/f.txt",
        "--- /dev/null",
        "@@ -1,2 +1,3 @@",
        "@@ -3,0 +4 @@",
        "@@ @@",
        " a",
        "-b",
        "+c",
        "",
        "\\ No newline at end of file",
        "new file mode 100755",
        "deleted file mode 100644",
        "rename from f.txt",
        "rename to g.txt",
        "*** Begin Patch",
        "*** Update File: f.txt",
        "*** End of File",
        "*** End Patch",
        "<<<<<<< SEARCH",
        "=======",
        ">>>>>>> REPLACE",
        "f.txt",
    ];
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.txt"), "a\nb\na\nb\n").unwrap();
    let fence = Fence::new(dir.path(), &[]).unwrap();
    let mut rng = Rng(42);
    for _ in 0..3000 {
        let text: Vec<&str> = (0..1 + rng.below(14)).map(|_| TOKENS[rng.below(TOKENS.len())]).collect();
        if let Ok(parsed) = parse(text.join("\n").as_bytes(), None, None) {
            let _ = plan(&parsed, &fence, &Limits::default());
        }
    }
}
