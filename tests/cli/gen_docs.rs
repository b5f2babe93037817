//! gen-docs: the manifest field by field, README and INDEX.md contents, determinism, a second
//! run that writes nothing, --check, foreign files, locks, bad records and interrupted runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use runner::testing::Home;
use runner::testing::queue::{self, State};
use runner::testing::results::{self, FileResult, Outcome, PatchResult, SCHEMA};
use serde_json::{Value, json};

use crate::support::Test;
use crate::support::queue::{delete_op, env_test, ops, queue as queue_patch, write_op};

pub(crate) const CONFIG: &str = "home = \"home\"\n\n[env.main]\ntree = \"tree\"\n";

pub(crate) fn home(t: &Test) -> Home {
    Home::new(t.join("home"))
}

pub(crate) fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A finished patch's record: one file per `(path, added, removed)`.
pub(crate) fn result(id: &str, outcome: Outcome, finished: &str, files: &[(&str, u64, u64)]) -> PatchResult {
    let finished = time(finished);
    let ok = matches!(outcome, Outcome::Applied | Outcome::AlreadyApplied);
    PatchResult {
        schema: SCHEMA,
        id: id.into(),
        env: "main".into(),
        state: if ok { State::Applied } else { State::Failed },
        outcome,
        description: Some(format!("patch {id}")),
        author: Some("gpt".into()),
        format: "unified".into(),
        received_at: Some(finished - chrono::Duration::seconds(60)),
        started_at: finished - chrono::Duration::milliseconds(100),
        finished_at: finished,
        duration_ms: 100,
        files: files
            .iter()
            .map(|(path, added, removed)| FileResult {
                path: path.to_string(),
                action: "modify".into(),
                from: None,
                added: *added,
                removed: *removed,
                matched: Some("exact".into()),
            })
            .collect(),
        checks: Vec::new(),
        reason: (!ok).then(|| "hunk 1 did not match".to_string()),
        reverted_at: None,
        reverted_by: None,
        commit: None,
        revert_commit: None,
    }
}

/// Store a record as apply-patch does: the result, and the patch file in its queue state.
pub(crate) fn store(t: &Test, r: &PatchResult) {
    results::write(&home(t), r).unwrap();
    queue::enqueue(&home(t), "main", &r.id, r.state, b"{}").unwrap();
}

pub(crate) fn set_mtime(path: &Path, t: SystemTime) {
    std::fs::File::options().write(true).open(path).unwrap().set_modified(t).unwrap();
}

/// Every file gen-docs generated under the environment, with its modification time.
fn generated(t: &Test) -> BTreeMap<PathBuf, SystemTime> {
    walkdir::WalkDir::new(t.join("home/main"))
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| ["INDEX.md", "README.md", "patch-manifest.json"].contains(&e.file_name().to_str().unwrap()))
        .map(|e| (e.path().to_path_buf(), e.metadata().unwrap().modified().unwrap()))
        .collect()
}

fn fixture() -> Test {
    let t = Test::new().file("runner.toml", CONFIG);
    home(&t).create_layout(["main"]).unwrap();
    let mut a = result("a", Outcome::Applied, "2026-11-20T10:00:00Z", &[("src/x.rs", 3, 1), ("src/y.rs", 2, 0)]);
    a.author = Some("alice".into());
    a.duration_ms = 40;
    a.files[1].action = "move".into();
    a.files[1].from = Some("src/old_y.rs".into());
    a.files[1].matched = Some("offset".into());
    store(&t, &a);
    let mut b = result("b", Outcome::Refused, "2026-11-20T11:00:00Z", &[]);
    b.duration_ms = 10;
    b.reason = Some("hunk 2 did not match src/x.rs\nclosest lines: …".into());
    store(&t, &b);
    let mut c = result("c", Outcome::Applied, "2026-11-21T09:00:00Z", &[("src/x.rs", 5, 5)]);
    c.duration_ms = 200;
    c.description = Some("fix | the <b>thing</b>\nsecond line".into());
    store(&t, &c);
    queue::enqueue(&home(&t), "main", "d", State::Pending, br#"{"id":"d","description":"waiting one","author":"bob"}"#)
        .unwrap();
    t
}

#[test]
fn manifest_field_by_field() {
    let t = fixture();
    let pending_mtime = std::fs::metadata(t.join("home/main/patches/pending/d.json")).unwrap().modified().unwrap();
    t.run(["gen-docs", "-q"]).success().stdout_is("");
    let m: Value = serde_json::from_str(&t.read("home/main/patch-manifest.json")).unwrap();
    assert_eq!(m["schema"], 1);
    assert_eq!(m["env"], "main");
    assert_eq!(
        m["counts"],
        json!({"incoming": 0, "pending": 1, "approved": 0, "applying": 0, "applied": 2, "failed": 1, "total": 4})
    );
    let ids: Vec<&str> = m["patches"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["a", "b", "c", "d"], "patches in arrival order");
    assert_eq!(
        m["patches"][0],
        json!({
            "id": "a", "state": "applied", "outcome": "applied", "description": "patch a", "author": "alice",
            "format": "unified", "received_at": "2026-11-20T09:59:00.000Z", "started_at": "2026-11-20T09:59:59.900Z",
            "finished_at": "2026-11-20T10:00:00.000Z", "applied_at": "2026-11-20T10:00:00.000Z", "duration_ms": 40,
            "added": 5, "removed": 1,
            "files": [
                {"path": "src/x.rs", "action": "modify", "from": null, "added": 3, "removed": 1, "matched": "exact"},
                {"path": "src/y.rs", "action": "move", "from": "src/old_y.rs", "added": 2, "removed": 0, "matched": "offset"}
            ],
            "reason": null, "reverted_at": null, "reverted_by": null, "commit": null, "revert_commit": null
        })
    );
    let b = &m["patches"][1];
    assert_eq!((b["state"].as_str(), b["outcome"].as_str()), (Some("failed"), Some("refused")));
    assert!(b["applied_at"].is_null());
    assert_eq!(b["reason"], "hunk 2 did not match src/x.rs\nclosest lines: …");
    let d = &m["patches"][3];
    let received = runner::testing::rfc3339::format(&DateTime::<Utc>::from(pending_mtime));
    assert_eq!(
        *d,
        json!({
            "id": "d", "state": "pending", "outcome": null, "description": "waiting one", "author": "bob",
            "format": null, "received_at": received, "started_at": null, "finished_at": null, "applied_at": null,
            "duration_ms": null, "added": 0, "removed": 0, "files": [], "reason": null,
            "reverted_at": null, "reverted_by": null, "commit": null, "revert_commit": null
        })
    );
    assert_eq!(
        m["changelog"],
        json!([
            {"date": "2026-11-21", "patches": [{"id": "c", "applied_at": "2026-11-21T09:00:00.000Z",
                "description": "fix | the <b>thing</b>\nsecond line", "author": "gpt", "files": 1, "added": 5, "removed": 5, "reverted_at": null}]},
            {"date": "2026-11-20", "patches": [{"id": "a", "applied_at": "2026-11-20T10:00:00.000Z",
                "description": "patch a", "author": "alice", "files": 2, "added": 5, "removed": 1, "reverted_at": null}]}
        ])
    );
    assert_eq!(
        m["stats"],
        json!({
            "finished": 3, "succeeded": 2, "failed": 1, "success_rate": 0.6667,
            "outcomes": {"applied": 2, "refused": 1},
            "apply_ms": {"mean": 83, "p95": 200, "max": 200},
            "top_failure_reasons": [{"reason": "hunk 2 did not match src/x.rs", "count": 1}],
            "by_author": [
                {"author": "gpt", "patches": 2, "succeeded": 1, "failed": 1, "added": 5, "removed": 5},
                {"author": "alice", "patches": 1, "succeeded": 1, "failed": 0, "added": 5, "removed": 1},
                {"author": "bob", "patches": 1, "succeeded": 0, "failed": 0, "added": 0, "removed": 0}
            ]
        })
    );
}

#[test]
fn readme_and_index_describe_the_store() {
    let t = fixture();
    t.write("home/main/summaries/c.md", "# c\n");
    t.write("home/main/summaries/.archive/2026/01/old.md", "# old\n");
    t.write("home/main/backups/a/manifest.json", "{}\n");
    t.write("home/main/backups/a/INDEX.md", "a backed-up file of the tree\n");
    t.write("home/main/results/notes.txt", "not a result\n");
    t.run(["gen-docs"]).success().stdout_contains("wrote main/patch-manifest.json");
    let readme = t.read("home/main/README.md");
    assert!(readme.starts_with("<!-- generated by `runner gen-docs`"), "{readme}");
    assert!(readme.contains("1 pending"), "{readme}");
    // Newest first; the description's markup is escaped and cut to its first line.
    let c = readme.find("[c](summaries/c.md) | applied | fix \\| the \\<b\\>thing\\</b\\> | +5 −5 |").expect(&readme);
    let b = readme.find("[b](results/b.json) | refused").expect(&readme);
    assert!(c < b);
    assert!(readme.contains("Success rate: 66.7%."), "{readme}");
    assert!(readme.contains("| 1 | hunk 2 did not match src/x.rs |"), "{readme}");

    let index = t.read("home/main/INDEX.md");
    assert!(index.contains("| [patch-manifest.json](patch-manifest.json) |"), "{index}");
    assert!(index.contains("| [summaries/](summaries/INDEX.md) | 2 files,"), "{index}");
    let summaries = t.read("home/main/summaries/INDEX.md");
    assert!(summaries.contains("| [c.md](c.md) | 4 B |"), "{summaries}");
    assert!(summaries.contains("Up: [../](../INDEX.md)"), "{summaries}");
    assert!(!summaries.contains(".archive"), "hidden directories are skipped: {summaries}");
    assert!(!t.exists("home/main/summaries/.archive/INDEX.md"));
    // A backup snapshot is listed, never written into.
    let backups = t.read("home/main/backups/INDEX.md");
    assert!(backups.contains("| [a/](a/) | backup |"), "{backups}");
    assert_eq!(t.read("home/main/backups/a/INDEX.md"), "a backed-up file of the tree\n");
    // Results are sized from the reads the manifest made, anything else there by a stat.
    let results = t.read("home/main/results/INDEX.md");
    let a_size = std::fs::metadata(t.join("home/main/results/a.json")).unwrap().len();
    assert!(results.contains(&format!("| [a.json](a.json) | {a_size} B |")), "{results}");
    assert!(results.contains("| [notes.txt](notes.txt) | 13 B |"), "{results}");
    assert!(results.contains("0 directories, 4 files,"), "{results}");
    assert!(index.contains("| [results/](results/INDEX.md) | 5 files,"), "{index}");
    assert!(t.exists("home/main/patches/pending/INDEX.md"));

    t.run(["gen-docs", "--all"]).success().stdout_contains("wrote main/summaries/.archive/INDEX.md");
    assert!(t.read("home/main/summaries/.archive/2026/01/INDEX.md").contains("| [old.md](old.md) | 6 B |"));
    assert!(t.read("home/main/summaries/INDEX.md").contains("[.archive/](.archive/INDEX.md)"));
}

#[test]
fn second_run_writes_nothing_and_check_agrees() {
    let t = fixture();
    t.run(["gen-docs", "--check"]).code(1).stdout_contains("would write main/patch-manifest.json");
    assert!(generated(&t).is_empty(), "--check wrote files");
    t.run(["gen-docs"]).success();
    // Back-date every generated file, so a rewrite could not hide within the clock's resolution.
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    for path in generated(&t).keys() {
        set_mtime(path, old);
    }
    let before = generated(&t);
    assert_eq!(before.len(), 13, "{before:?}");
    assert!(before.values().all(|m| *m == old));
    t.run(["gen-docs"]).success().stdout_is("");
    t.run(["gen-docs", "--check"]).success().stdout_is("");
    assert_eq!(generated(&t), before, "a run with nothing changed rewrote a file");

    store(&t, &result("e", Outcome::Applied, "2026-11-22T00:00:00Z", &[("src/z.rs", 1, 0)]));
    let report = t.run(["gen-docs", "--check", "--json"]).code(1).json();
    assert_eq!(report["check"], true);
    assert_eq!(report["changed"], true);
    let changed: Vec<&str> =
        report["envs"]["main"]["changed"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    for file in ["main/patch-manifest.json", "main/README.md", "main/results/INDEX.md", "main/INDEX.md"] {
        assert!(changed.contains(&file), "{file} not in {changed:?}");
    }
    assert!(!changed.contains(&"main/summaries/INDEX.md"), "{changed:?}");
    assert_eq!(generated(&t), before, "--check wrote a file");
    let ino = |rel: &str| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(t.join(rel)).unwrap());
    let (manifest_ino, summaries_ino) = (ino("home/main/patch-manifest.json"), ino("home/main/summaries/INDEX.md"));
    let report = t.run(["gen-docs", "--json"]).success().json();
    assert_eq!(report["envs"]["main"]["changed"].as_array().unwrap().len(), changed.len());
    // A new file renamed into place, never the old one rewritten where a reader could see it torn.
    assert_ne!(ino("home/main/patch-manifest.json"), manifest_ino);
    assert_eq!(ino("home/main/summaries/INDEX.md"), summaries_ino);
    let leftovers = walkdir::WalkDir::new(t.join("home/main"))
        .into_iter()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with(".runner-tmp."))
        .count();
    assert_eq!(leftovers, 0);
    let after = generated(&t);
    assert_eq!(after[&t.join("home/main/summaries/INDEX.md")], old, "an unchanged file was rewritten");
    assert_ne!(after[&t.join("home/main/patch-manifest.json")], old);
    t.run(["gen-docs", "--check"]).success();
}

#[test]
fn same_records_give_byte_identical_files() {
    let t = fixture();
    t.run(["gen-docs"]).success();
    let first: Vec<(PathBuf, Vec<u8>)> =
        generated(&t).into_keys().map(|p| (p.clone(), std::fs::read(&p).unwrap())).collect();
    for (path, _) in &first {
        std::fs::remove_file(path).unwrap();
    }
    // Results rewritten in another order, with new file times: the data is what counts.
    for id in ["c", "a", "b"] {
        let r = results::read(&home(&t), "main", id).unwrap().unwrap();
        results::write(&home(&t), &r).unwrap();
    }
    t.run(["gen-docs"]).success();
    for (path, bytes) in first {
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{} differs", path.display());
    }
}

#[test]
fn a_markdown_file_gen_docs_did_not_write_is_left_alone() {
    let t = fixture();
    // A patch whose id is INDEX has a summary where summaries/INDEX.md would go.
    t.write("home/main/summaries/INDEX.md", "# the summary of patch INDEX\n");
    t.run(["gen-docs"])
        .success()
        .stderr_contains("warning: left main/summaries/INDEX.md alone: gen-docs did not write it");
    assert_eq!(t.read("home/main/summaries/INDEX.md"), "# the summary of patch INDEX\n");
    let report = t.run(["gen-docs", "--check", "--json"]).success().json();
    assert_eq!(report["envs"]["main"]["skipped"], json!(["main/summaries/INDEX.md"]));
}

#[test]
fn a_corrupt_record_is_a_clear_error_and_nothing_is_written() {
    let t = fixture();
    t.write("home/main/results/zz.json", "{\"schema\": 1, \"id\": ");
    t.run(["gen-docs"]).code(2).stderr_contains("could not parse result").stderr_contains("results/zz.json");
    assert!(generated(&t).is_empty());
}

#[test]
fn busy_lock_exits_75() {
    let t = fixture();
    std::fs::create_dir_all(t.join("home/state/locks")).unwrap();
    let lock = std::fs::File::create(t.join("home/state/locks/gen-docs.main.lock")).unwrap();
    lock.try_lock().unwrap();
    t.run(["gen-docs"]).code(75).stderr_contains("gen-docs.main");
    assert!(generated(&t).is_empty());
    drop(lock);
    t.run(["gen-docs"]).success();
    assert!(t.exists("home/state/heartbeats/gen-docs.json"));
}

#[test]
fn interrupted_runs_leave_no_half_written_file() {
    let t = fixture();
    let h = home(&t);
    for i in 0..3000 {
        let r = result(&format!("n{i:05}"), Outcome::Applied, "2026-11-22T00:00:00Z", &[("src/many.rs", 1, 1)]);
        // Plain writes: durability is not what this test is about, and 3,000 fsyncs are slow.
        std::fs::write(h.result_file("main", &r.id).unwrap(), serde_json::to_vec(&r).unwrap()).unwrap();
    }
    // Time one full run, then kill runs that start from scratch at sixteen points across that
    // span. The data does not change, so every generated file on disk, whenever the kill landed,
    // must be byte for byte what a clean run writes: never torn.
    let started = std::time::Instant::now();
    t.run(["gen-docs", "-q"]).success();
    let full = started.elapsed();
    let mut seen: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for k in 0..16 {
        for path in generated(&t).keys() {
            std::fs::remove_file(path).unwrap();
        }
        let mut child = t.command(["gen-docs", "-q"]).spawn().unwrap();
        std::thread::sleep(full * k / 16);
        let _ = child.kill();
        child.wait().unwrap();
        seen.extend(generated(&t).into_keys().map(|p| (p.clone(), std::fs::read(&p).unwrap())));
    }
    let stale = t.join("home/main/.runner-tmp.999999.0.patch-manifest.json");
    std::fs::write(&stale, "{\"schema\": 1, \"env\"").unwrap();
    t.write("home/main/summaries/.runner-tmp.999999.0.INDEX.md", "a killed writer's temp file");
    // A live writer's (this test's process id), which apply-patch could be writing now.
    let live = format!("home/main/summaries/.runner-tmp.{}.0.INDEX.md", std::process::id());
    t.write(&live, "a live writer's temp file");
    t.write("home/main/results/.runner-tmp.999999.0.INDEX.md", "a killed run's index");
    t.write("home/main/results/.runner-tmp.999999.1.p.json", "a result being written");
    t.run(["gen-docs"]).success();
    t.run(["gen-docs", "--check"]).success();
    assert!(!stale.exists(), "a killed run's temp file is left behind");
    assert!(!t.exists("home/main/results/.runner-tmp.999999.0.INDEX.md"), "a killed run's index is left behind");
    assert!(t.exists("home/main/results/.runner-tmp.999999.1.p.json"), "only gen-docs' own temps go");
    assert!(!t.exists("home/main/summaries/.runner-tmp.999999.0.INDEX.md"), "a killed writer's temp is left");
    assert!(t.exists(&live), "summaries/ is apply-patch's too: a live writer's temp stays");
    for (path, bytes) in seen {
        assert!(std::fs::read(&path).unwrap() == bytes, "{} was torn by a kill", path.display());
    }
}

/// The manifest against the records `apply-patch` itself wrote: every field of every patch.
#[test]
fn manifest_matches_a_queue_built_by_apply_patch() {
    let t = env_test("allowed_paths = [\"src/**\", \"a.txt\"]");
    t.write("tree/a.txt", "one\n");
    queue_patch(&t, "pending", &ops("p-old", &[write_op("a.txt", "two\n"), write_op("src/b.txt", "b\n")]), 3);
    queue_patch(&t, "pending", &ops("bad", &[write_op("etc/passwd", "x\n")]), 2);
    queue_patch(&t, "pending", &ops("p-new", &[write_op("a.txt", "three\nfour\n"), delete_op("src/b.txt")]), 1);
    t.run(["apply-patch"]).code(1);
    t.run(["revert", "p-new"]).success();
    queue_patch(&t, "pending", &ops("later", &[write_op("a.txt", "five\n")]), 0);
    t.run(["gen-docs", "-q"]).success();
    let m: Value = serde_json::from_str(&t.read(".runner/main/patch-manifest.json")).unwrap();
    assert_eq!(m["counts"]["applied"], 2);
    assert_eq!(m["counts"]["failed"], 1);
    assert_eq!(m["counts"]["pending"], 1);
    assert_eq!(m["counts"]["total"], 4);
    let patches = m["patches"].as_array().unwrap();
    let ids: Vec<&str> = patches.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids[3], "later", "a waiting patch arrived last: {ids:?}");
    for p in &patches[..3] {
        let id = p["id"].as_str().unwrap();
        let r: Value = serde_json::from_str(&t.read(&format!(".runner/main/results/{id}.json"))).unwrap();
        for key in ["state", "outcome", "description", "author", "format", "received_at", "started_at", "finished_at"] {
            assert_eq!(p[key], r[key], "{id}.{key}");
        }
        assert_eq!(p["duration_ms"], r["duration_ms"], "{id}.duration_ms");
        assert_eq!(p["reason"], r["reason"], "{id}.reason");
        assert_eq!(p["reverted_at"], r["reverted_at"], "{id}.reverted_at");
        let files = r["files"].as_array().unwrap();
        assert_eq!(p["files"].as_array().unwrap().len(), files.len(), "{id}.files");
        for (pf, rf) in p["files"].as_array().unwrap().iter().zip(files) {
            for key in ["path", "action", "from", "added", "removed", "matched"] {
                assert_eq!(pf[key], rf[key], "{id}.files.{key}");
            }
        }
        let sum = |k: &str| files.iter().map(|f| f[k].as_u64().unwrap()).sum::<u64>();
        assert_eq!((p["added"].as_u64(), p["removed"].as_u64()), (Some(sum("added")), Some(sum("removed"))));
        let applied = r["outcome"] == "applied";
        assert_eq!(p["applied_at"], if applied { r["finished_at"].clone() } else { Value::Null }, "{id}.applied_at");
    }
    let by_id = |id: &str| patches.iter().find(|p| p["id"] == id).unwrap();
    assert_eq!(by_id("bad")["state"], "failed");
    assert_eq!(by_id("bad")["outcome"], "refused");
    assert!(by_id("bad")["reason"].as_str().unwrap().contains("allowed_paths"));
    assert!(by_id("p-new")["reverted_at"].is_string());
    assert_eq!(by_id("p-old")["files"][1]["path"], "src/b.txt");
    assert_eq!(by_id("later")["description"], "test patch later");
    assert!(by_id("later")["outcome"].is_null());
    let changelog: Vec<&str> = m["changelog"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["patches"].as_array().unwrap())
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(changelog, ["p-new", "p-old"], "applied patches, newest first");
    assert_eq!(m["stats"]["finished"], 3);
    assert_eq!(m["stats"]["outcomes"], json!({"applied": 2, "refused": 1}));
    assert!(t.read(".runner/main/README.md").contains("applied, reverted"));
    t.run(["gen-docs", "--check"]).success();
    // p-new was reverted, so p-old is again the newest applied patch of a.txt: its backup stays.
    t.run(["archive-summaries", "--prune-backups", "0s"]).success().stdout_contains("backups: 0 removed");
    assert!(t.exists(".runner/main/backups/p-old/manifest.json"));
}
