//! A queue run takes patches that arrive while it works, and settles the patches of one pass
//! together (disjoint files, no validate commands) without giving up order or crash safety.

use std::time::Duration;

use crate::support::Rng;
use crate::support::queue::*;

fn ids(report: &serde_json::Value) -> Vec<String> {
    report["patches"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_patch_queued_during_a_run_is_applied_by_that_run() {
    // The validate command plays a poster: while `first` is being checked, `late` arrives.
    let t =
        env_test("validate = [\"if [ -f ../late.json ]; then mv ../late.json ../.runner/main/patches/pending/; fi\"]");
    t.write("late.json", serde_json::to_vec(&ops("late", &[write_op("late.txt", "late\n")])).unwrap());
    queue(&t, "pending", &ops("first", &[write_op("first.txt", "first\n")]), 0);
    let report = t.run(["apply-patch", "--json"]).success().json();
    assert_eq!(ids(&report), ["first", "late"], "{report}");
    assert_eq!(report["waiting"], serde_json::json!([]));
    assert_eq!((t.read("tree/first.txt"), t.read("tree/late.txt")), ("first\n".into(), "late\n".into()));
    assert_eq!((state_of(&t, "first"), state_of(&t, "late")), (Some("applied"), Some("applied")));
}

#[test]
fn patches_settled_together_keep_queue_order_and_a_shared_file_waits_its_turn() {
    let t = env_test("allowed_paths = [\"src/**\"]");
    queue(&t, "pending", &ops("a", &[write_op("src/x.txt", "a\n")]), 5);
    queue(&t, "pending", &ops("b", &[write_op("etc/passwd", "b\n")]), 4);
    queue(&t, "pending", &ops("c", &[write_op("src/y.txt", "c\n")]), 3);
    queue(&t, "pending", &ops("d", &[write_op("src/x.txt", "d\n")]), 2);
    queue(&t, "pending", &ops("e", &[write_op("src/z.txt", "e\n")]), 1);
    let report = t.run(["apply-patch", "--json"]).code(1).json();
    assert_eq!(ids(&report), ["a", "b", "c", "d", "e"], "{report}");
    let settled: Vec<_> = events(&t).iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(settled, ["a", "b", "c", "d", "e"]);
    assert_eq!((t.read("tree/src/x.txt"), t.read("tree/src/y.txt")), ("d\n".into(), "c\n".into()));
    for id in ["a", "c", "d", "e"] {
        assert_eq!((state_of(&t, id), result(&t, id)["outcome"].as_str()), (Some("applied"), Some("applied")));
        assert!(t.exists(&format!(".runner/main/summaries/{id}.md")));
    }
    assert_eq!(state_of(&t, "b"), Some("failed"));
    assert_eq!(std::fs::read_dir(t.join(".runner/main/patches/applying")).unwrap().count(), 0);
}

#[test]
fn patches_on_one_file_by_two_names_or_on_a_file_and_its_directory_take_turns() {
    // Patches of one pass are planned before any of them is written, so two that meet on disk go
    // one after the other, as if each had its own run: through a symlinked directory, or one
    // writing `d` and the next `d/x`.
    let t = env_test("");
    std::fs::create_dir(t.join("tree/real")).unwrap();
    t.write("tree/real/f.txt", "0\n");
    std::os::unix::fs::symlink("real", t.join("tree/link")).unwrap();
    queue(&t, "pending", &ops("a", &[write_op("real/f.txt", "a\n")]), 4);
    queue(&t, "pending", &ops("b", &[write_op("link/f.txt", "b\n")]), 3);
    queue(&t, "pending", &ops("c", &[write_op("d", "c\n")]), 2);
    queue(&t, "pending", &ops("e", &[write_op("d/x", "e\n")]), 1);
    let report = t.run(["apply-patch", "--json"]).code(1).json();
    assert_eq!(ids(&report), ["a", "b", "c", "e"], "{report}");
    for id in ["a", "b", "c"] {
        assert_eq!(result(&t, id)["outcome"], "applied", "{id}: {report}");
    }
    assert_eq!((t.read("tree/real/f.txt"), t.read("tree/d")), ("b\n".into(), "c\n".into()));
    // `e` is judged against the tree `c` left: its directory is a file now.
    let e = result(&t, "e");
    assert_eq!((state_of(&t, "e"), e["outcome"].as_str()), (Some("failed"), Some("refused")), "{e}");
    assert!(e["reason"].as_str().unwrap().contains('d'), "{e}");
}

/// Patch `v` writes two files of its own, so the patches of a pass are settled together.
fn two_files(v: usize) -> serde_json::Value {
    ops(&format!("p{v:03}"), &[write_op(&format!("d{v}/a.txt"), "a\n"), write_op(&format!("d{v}/b.txt"), "b\n")])
}

#[test]
fn sigkill_while_patches_wait_to_settle_rolls_each_back_entirely() {
    let mut rng = Rng::from_env();
    let seed = rng.0;
    let t = env_test("");
    let (rounds, per_round) = (12, 6);
    let mut rolled_back = 0;
    for round in 0..rounds {
        for k in 0..per_round {
            queue(&t, "pending", &two_files(round * per_round + k), (per_round - k) as u64);
        }
        t.kill_during(&["apply-patch"], Duration::from_micros(rng.below(40_000) as u64));
        let run = t.run(["apply-patch", "--json"]);
        assert!(run.code == 0, "recovery run failed with {} (seed {seed}):\n{}\n{}", run.code, run.stdout, run.stderr);
        assert_eq!(std::fs::read_dir(t.join(".runner/main/patches/applying")).unwrap().count(), 0, "seed {seed}");
        for v in 0..(round + 1) * per_round {
            let id = format!("p{v:03}");
            let applied = match (state_of(&t, &id), result(&t, &id)["outcome"].as_str()) {
                (Some("applied"), Some("applied")) => true,
                (Some("failed"), Some("error")) => false,
                other => panic!("patch {id} ended as {other:?} (seed {seed})"),
            };
            rolled_back += usize::from(!applied && v >= round * per_round);
            for f in ["a", "b"] {
                assert_eq!(t.exists(&format!("tree/d{v}/{f}.txt")), applied, "{id} {f}.txt (seed {seed})");
            }
        }
    }
    eprintln!("of {} patches, {rolled_back} were rolled back by recovery", rounds * per_round);
}
