//! The property test: random files (with repeated lines, so context is often ambiguous without
//! the line numbers), random edits, `diff -u` between them, and the diff applied back through
//! `patch::parse` + `patch::plan` must give the edited bytes exactly. Seeded, so a failure
//! names the case that reproduces it.

use std::process::Command;

use runner::patch::{self, Limits, fence::Fence};

/// xorshift64*: small, seeded, good enough to pick edits.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

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

#[test]
fn random_edits_diffed_and_applied_back_give_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    let fence = Fence::new(&tree, &[]).unwrap();
    let mut applied = 0;
    for case in 0..300u64 {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (case + 1).wrapping_mul(0x1000_0001));
        let mut fresh = 0;
        let eol = if rng.below(5) == 0 { "\r\n" } else { "\n" };
        let old: Vec<String> = (0..rng.below(80)).map(|_| random_line(&mut rng, &mut fresh)).collect();
        let mut new = old.clone();
        for _ in 0..1 + rng.below(6) {
            let at = rng.below(new.len() + 1);
            match rng.below(3) {
                // Inserted and changed lines are new text: a line equal to its neighbours would
                // make "already applied" undecidable, for any tool.
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
        std::fs::write(tree.join("f.txt"), &before).unwrap();
        std::fs::write(dir.path().join("new.txt"), &after).unwrap();
        let context = ["-U1", "-U2", "-U3", "-U5"][rng.below(4)];
        let out = Command::new("diff")
            .args([context, "--label", "a/f.txt", "--label", "b/f.txt"])
            .arg(tree.join("f.txt"))
            .arg(dir.path().join("new.txt"))
            .output()
            .expect("run diff (diffutils)");
        if out.stdout.is_empty() {
            continue;
        }
        let parsed = patch::parse(&out.stdout, None, None)
            .unwrap_or_else(|e| panic!("case {case}: parse: {e:#}\n{}", String::from_utf8_lossy(&out.stdout)));
        let plan = patch::plan(&parsed, &fence, &Limits::default())
            .unwrap_or_else(|r| panic!("case {case}: refused: {r}\n{}", String::from_utf8_lossy(&out.stdout)));
        // The plan's bytes are what commit writes; writing them plainly keeps the test free of fsyncs.
        let got = plan.files[0].after.as_ref().map(|s| s.bytes.clone()).unwrap_or_default();
        std::fs::write(tree.join("f.txt"), &got).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&after),
            "case {case}\n--- diff\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        // And once more: already applied, nothing changes.
        let again = patch::plan(&parsed, &fence, &Limits::default()).unwrap_or_else(|r| {
            panic!("case {case}: second run refused: {r}\n{}", String::from_utf8_lossy(&out.stdout))
        });
        assert!(
            again.is_noop(),
            "case {case}: applied twice ({:?})\n{}\n--- file\n{}--- would become\n{}",
            again.files[0].result,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&after),
            String::from_utf8_lossy(&again.files[0].after.as_ref().map(|s| s.bytes.clone()).unwrap_or_default())
        );
        applied += 1;
    }
    assert!(applied > 250, "only {applied} cases produced a diff");
}
