//! Kill `apply-patch` with SIGKILL at random moments (sometimes twice in a row, so a recovery is
//! killed too) and check that every file is whole, that
//! the next run recovers (nothing left in applying/, a result for every patch), and that each
//! patch is in the tree entirely or not at all.

use std::time::Duration;

use crate::support::queue::*;
use crate::support::{Rng, Test};

const FILES: usize = 5;
const RUNS: usize = 40;

fn contents(version: usize, file: usize) -> String {
    format!("version {version} of file {file}\n")
}

/// Patch `v` rewrites every file to version `v` and creates `extra/p<v>.txt`.
fn patch(v: usize) -> serde_json::Value {
    let mut writes: Vec<_> = (0..FILES).map(|f| write_op(&format!("src/f{f}.txt"), &contents(v, f))).collect();
    writes.push(write_op(&format!("extra/p{v}.txt"), "extra\n"));
    ops(&format!("p{v:03}"), &writes)
}

/// Every file holds exactly one version, whole; returns the versions seen.
fn versions(t: &Test) -> Vec<usize> {
    (0..FILES)
        .map(|f| {
            let text = t.read(&format!("tree/src/f{f}.txt"));
            (0..=RUNS).find(|v| text == contents(*v, f)).unwrap_or_else(|| panic!("f{f} is torn: {text:?}"))
        })
        .collect()
}

#[test]
fn sigkill_at_any_moment_leaves_files_whole_and_the_next_run_recovers() {
    let mut rng = Rng::from_env();
    let seed = rng.0;
    let t = env_test("validate = [\"sleep 0.01\", \"test -f src/f0.txt\", \"sleep 0.01\"]");
    for f in 0..FILES {
        t.write(&format!("tree/src/f{f}.txt"), contents(0, f));
    }
    for v in 1..=RUNS {
        queue(&t, "pending", &patch(v), 0);
        // Every other time on average, a second run is killed too: mid-recovery, or mid-way
        // through the patch the first one requeued.
        for _ in 0..1 + rng.below(2) {
            t.kill_during(&["apply-patch"], Duration::from_micros(rng.below(60_000) as u64));
            versions(&t); // whole files even before recovery
        }

        // A command the killed run was starting can hold a copy of its lock until it execs
        // (a moment, longer on a loaded machine): exit 75 is the next run being told so.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut run = t.run(["apply-patch", "--json"]);
        while run.code == 75 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            run = t.run(["apply-patch", "--json"]);
        }
        assert!(run.code == 0, "recovery run failed with {} (seed {seed}):\n{}\n{}", run.code, run.stdout, run.stderr);
        let applying: Vec<_> = std::fs::read_dir(t.join(".runner/main/patches/applying")).unwrap().collect();
        assert!(applying.is_empty(), "applying/ not empty after recovery (seed {seed})");

        // Each patch ended applied or failed with a result; the tree holds the newest applied
        // one entirely, and exactly the extra files of applied patches.
        let mut newest = 0;
        for p in 1..=v {
            let id = format!("p{p:03}");
            let r = result(&t, &id);
            match (state_of(&t, &id), r["outcome"].as_str()) {
                (Some("applied"), Some("applied")) => newest = p,
                (Some("failed"), Some("error")) => {
                    assert!(r["reason"].as_str().unwrap().contains("interrupted"), "{r}");
                }
                other => panic!("patch {id} ended as {other:?} (seed {seed})"),
            }
            let applied = r["outcome"] == "applied";
            assert_eq!(t.exists(&format!("tree/extra/p{p}.txt")), applied, "extra file of {id} (seed {seed})");
        }
        assert_eq!(versions(&t), vec![newest; FILES], "tree is not at p{newest:03} (seed {seed})");
        let stray: Vec<_> = snapshot(&t.join("tree")).into_keys().filter(|p| p.contains(".runner-tmp.")).collect();
        assert!(stray.is_empty(), "temp files left in the tree: {stray:?} (seed {seed})");
    }
    let outcomes: Vec<_> = (1..=RUNS).map(|p| result(&t, &format!("p{p:03}"))["outcome"].clone()).collect();
    let count = |what: &str| outcomes.iter().filter(|o| *o == what).count();
    eprintln!("of {RUNS} patches: {} applied, {} rolled back by recovery", count("applied"), count("error"));
}
