//! archive-summaries: age by modification time, waiting patches' summaries kept, collisions,
//! dry run, the audit event and heartbeat, and --prune-backups' rule.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use runner::testing::queue::{self, State};
use runner::testing::results::Outcome;
use serde_json::json;

use crate::gen_docs::{CONFIG, home, result, set_mtime, store};
use crate::support::Test;

const DAY: u64 = 86_400;

/// A summary for `id` last modified `age` ago; returns that time.
fn summary(t: &Test, id: &str, age: Duration) -> SystemTime {
    let rel = format!("home/main/summaries/{id}.md");
    t.write(&rel, format!("# {id}\n"));
    let mtime = SystemTime::now() - age;
    set_mtime(&t.join(&rel), mtime);
    mtime
}

fn month(t: SystemTime) -> String {
    DateTime::<Utc>::from(t).format("%Y/%m").to_string()
}

#[test]
fn old_summaries_move_by_modification_month_and_young_ones_stay() {
    let t = Test::new().file("runner.toml", CONFIG);
    let old = summary(&t, "old", Duration::from_secs(3 * DAY));
    let ancient = summary(&t, "ancient", Duration::from_secs(400 * DAY));
    summary(&t, "young", Duration::from_secs(DAY));
    t.write("home/main/summaries/notes.txt", "not a summary");
    let run = t.run(["archive-summaries"]).success();
    let (m_old, m_ancient) = (month(old), month(ancient));
    assert!(run.stdout.contains(&format!("archived main/summaries/old.md -> main/summaries/.archive/{m_old}/old.md")));
    assert!(
        run.stdout.contains("main: summaries: 2 archived, 1 newer kept, 0 of waiting patches kept"),
        "{}",
        run.stdout
    );
    assert_eq!(t.read(&format!("home/main/summaries/.archive/{m_old}/old.md")), "# old\n");
    assert_eq!(t.read(&format!("home/main/summaries/.archive/{m_ancient}/ancient.md")), "# ancient\n");
    assert!(!t.exists("home/main/summaries/old.md"));
    assert!(t.exists("home/main/summaries/young.md"));
    assert!(t.exists("home/main/summaries/notes.txt"));
    // The move keeps the file's time, so a later run sees the same age.
    let moved = std::fs::metadata(t.join(&format!("home/main/summaries/.archive/{m_old}/old.md"))).unwrap();
    assert_eq!(moved.modified().unwrap(), old);
    assert!(t.exists("home/state/heartbeats/archive-summaries.json"));
    let events = t.read("home/events.jsonl");
    assert!(events.contains(r#""action":"summaries.archived","env":"main","archived":2,"kept":1"#), "{events}");

    // A shorter threshold from the flag; the young one goes too. Nothing left: no event.
    t.run(["archive-summaries", "--older-than", "1h", "-q"]).success().stdout_is("");
    assert!(!t.exists("home/main/summaries/young.md"));
    t.run(["archive-summaries"]).success().stdout_contains("main: summaries: 0 archived");
    assert_eq!(t.read("home/events.jsonl").lines().count(), 2);
}

#[test]
fn summaries_of_waiting_patches_never_move_and_patches_are_untouched() {
    let t = Test::new().file("runner.toml", CONFIG);
    let h = home(&t);
    for (id, state) in [("p", State::Pending), ("q", State::Approved), ("r", State::Applying), ("i", State::Incoming)] {
        queue::enqueue(&h, "main", id, state, b"{}").unwrap();
        summary(&t, id, Duration::from_secs(10 * DAY));
    }
    store(&t, &result("done", Outcome::Applied, "2026-01-01T00:00:00Z", &[]));
    summary(&t, "done", Duration::from_secs(10 * DAY));
    let old = SystemTime::now() - Duration::from_secs(10 * DAY);
    set_mtime(&t.join("home/main/patches/pending/p.json"), old);
    set_mtime(&t.join("home/main/results/done.json"), old);
    let report = t.run(["archive-summaries", "--json"]).success().json();
    assert_eq!(report["envs"]["main"]["waiting"], 4);
    assert_eq!(report["envs"]["main"]["archived"].as_array().unwrap().len(), 1);
    for id in ["p", "q", "r", "i"] {
        assert!(t.exists(&format!("home/main/summaries/{id}.md")), "{id} moved");
    }
    assert!(t.exists("home/main/patches/pending/p.json"));
    assert!(t.exists("home/main/patches/applied/done.json"));
    assert!(t.exists("home/main/results/done.json"));
    assert!(!t.exists("home/main/summaries/done.md"));
}

#[test]
fn name_collisions_never_overwrite() {
    let t = Test::new().file("runner.toml", CONFIG);
    let mtime = summary(&t, "a", Duration::from_secs(5 * DAY));
    let dir = format!("home/main/summaries/.archive/{}", month(mtime));
    t.write(&format!("{dir}/a.md"), "first a\n");
    t.write(&format!("{dir}/a.1.md"), "second a\n");
    t.run(["archive-summaries"])
        .success()
        .stdout_contains(&format!("-> main/summaries/.archive/{}/a.2.md", month(mtime)));
    assert_eq!(t.read(&format!("{dir}/a.md")), "first a\n");
    assert_eq!(t.read(&format!("{dir}/a.1.md")), "second a\n");
    assert_eq!(t.read(&format!("{dir}/a.2.md")), "# a\n");
}

#[test]
fn dry_run_moves_nothing() {
    let t = Test::new().file("runner.toml", CONFIG);
    let mtime = summary(&t, "a", Duration::from_secs(5 * DAY));
    summary(&t, "b", Duration::from_secs(60));
    t.run(["archive-summaries", "--dry-run"])
        .success()
        .stdout_contains(&format!("would archive main/summaries/a.md -> main/summaries/.archive/{}/a.md", month(mtime)))
        .stdout_contains("main: summaries: 1 would be archived, 1 newer kept");
    let report = t.run(["archive-summaries", "--dry-run", "--json"]).success().json();
    assert_eq!(
        report,
        json!({"dry_run": true, "envs": {"main": {
            "archived": [{"id": "a", "to": format!(".archive/{}/a.md", month(mtime))}],
            "young": 1, "waiting": 0, "pruned_backups": null, "kept_backups": null
        }}})
    );
    assert!(t.exists("home/main/summaries/a.md"));
    assert!(!t.exists("home/main/summaries/.archive"));
    assert!(!t.exists("home/events.jsonl"));
    assert!(!t.exists("home/state/heartbeats/archive-summaries.json"));
}

#[test]
fn unknown_env_and_bad_age_are_errors() {
    let t = Test::new().file("runner.toml", CONFIG);
    t.run(["archive-summaries", "--env", "nope"]).code(2).stderr_contains("unknown environment \"nope\"");
    t.run(["archive-summaries", "--older-than", "soon"]).code(2);
}

/// Backups: a (old) and b (old, newer) touch x; b and c (recent) touch y; b also moved z from w.
#[test]
fn prune_backups_keeps_the_newest_backup_of_every_file() {
    let t = Test::new().file("runner.toml", CONFIG);
    let now = Utc::now();
    let ago = |days: i64| runner::testing::rfc3339::format(&(now - chrono::Duration::days(days)));
    store(&t, &result("a", Outcome::Applied, &ago(30), &[("x", 1, 0)]));
    let mut b = result("b", Outcome::Applied, &ago(20), &[("x", 1, 0), ("y", 1, 0), ("z", 0, 0)]);
    b.files[2].from = Some("w".into());
    store(&t, &b);
    store(&t, &result("c", Outcome::Applied, &ago(1), &[("y", 1, 0)]));
    store(&t, &result("d", Outcome::Applied, &ago(40), &[("y", 1, 0)]));
    store(&t, &result("f", Outcome::Refused, &ago(40), &[("x", 1, 0)]));
    // g's only newer patch on v was reverted, so g's backup is what revert of v needs again.
    store(&t, &result("g", Outcome::Applied, &ago(50), &[("v", 1, 0)]));
    let mut r = result("r", Outcome::Applied, &ago(10), &[("v", 1, 0)]);
    r.reverted_at = Some(now);
    store(&t, &r);
    queue::enqueue(&home(&t), "main", "p", State::Pending, b"{}").unwrap();
    for id in ["a", "b", "c", "d", "f", "g", "r", "p", "orphan"] {
        t.write(&format!("home/main/backups/{id}/manifest.json"), "{}");
        t.write(&format!("home/main/backups/{id}/files/x"), "original");
    }
    t.write("home/main/backups/.pruning.gone/files/x", "left by a crashed run");

    let report = t.run(["archive-summaries", "--prune-backups", "7d", "--dry-run", "--json"]).success().json();
    assert_eq!(report["envs"]["main"]["pruned_backups"], json!(["a", "d"]));
    assert_eq!(report["envs"]["main"]["kept_backups"], 7);
    assert!(t.exists("home/main/backups/a/manifest.json"), "dry run removed a backup");

    t.run(["archive-summaries", "--prune-backups", "7d"])
        .success()
        .stdout_contains("removed backup main/backups/a")
        .stdout_contains("backups: 2 removed, 7 kept");
    // a: x is newer in b. d: y is newer in b and c. b keeps x, w and z; c is too young;
    // f failed, p waits, orphan has no result: kept whatever their age.
    for (id, kept) in [("a", false), ("b", true), ("c", true), ("d", false), ("f", true), ("p", true), ("orphan", true)]
    {
        assert_eq!(t.exists(&format!("home/main/backups/{id}")), kept, "backup {id}");
    }
    assert!(!t.exists("home/main/backups/.pruning.gone"), "a crashed run's removal is finished");
    let events = t.read("home/events.jsonl");
    let event: serde_json::Value = serde_json::from_str(events.lines().last().unwrap()).unwrap();
    assert_eq!((event["action"].as_str(), event["env"].as_str()), (Some("summaries.archived"), Some("main")));
    assert_eq!((event["backups_pruned"].as_u64(), event["backups_kept"].as_u64()), (Some(2), Some(7)));
    // With a shorter age, c is still the newest for y and stays.
    t.run(["archive-summaries", "--prune-backups", "0s"]).success().stdout_contains("backups: 0 removed, 7 kept");
}

/// With backups apply-patch made: the older patch's backup goes, and revert of the newer one
/// still works from the backup that stays.
#[test]
fn pruned_backups_leave_revert_working() {
    use crate::support::queue::{env_test, ops, queue as queue_patch, write_op};
    let t = env_test("");
    t.write("tree/a.txt", "one\n");
    queue_patch(&t, "pending", &ops("x1", &[write_op("a.txt", "two\n")]), 2);
    queue_patch(&t, "pending", &ops("x2", &[write_op("a.txt", "three\n")]), 1);
    t.run(["apply-patch"]).success();
    t.run(["archive-summaries", "--prune-backups", "0s"])
        .success()
        .stdout_contains("removed backup main/backups/x1")
        .stdout_contains("backups: 1 removed, 1 kept");
    assert!(!t.exists(".runner/main/backups/x1"));
    t.run(["revert", "x2"]).success();
    assert_eq!(t.read("tree/a.txt"), "two\n");
}
