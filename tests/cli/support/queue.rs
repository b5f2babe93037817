//! Fixtures shared by the queue, operator and crash tests: an environment `main` whose tree is
//! `tree/`, patches written straight into its queue, and whole-tree snapshots to compare.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::support::Test;

/// A test with runner.toml defining env `main` (tree `tree/`) plus `extra` lines in its table.
pub(crate) fn env_test(extra: &str) -> Test {
    let t = Test::new().file("runner.toml", format!("[env.main]\ntree = \"tree\"\n{extra}\n"));
    std::fs::create_dir_all(t.join("tree")).unwrap();
    t
}

pub(crate) fn write_op(path: &str, contents: &str) -> Value {
    json!({ "op": "write", "path": path, "contents": contents })
}

pub(crate) fn delete_op(path: &str) -> Value {
    json!({ "op": "delete", "path": path })
}

/// An envelope with these operations.
pub(crate) fn ops(id: &str, ops: &[Value]) -> Value {
    json!({ "id": id, "description": format!("test patch {id}"), "operations": ops })
}

/// Put a patch in a queue state; `age` orders patches (older first) without relying on the
/// file system's clock granularity.
pub(crate) fn queue(t: &Test, state: &str, envelope: &Value, age: u64) {
    let id = envelope["id"].as_str().unwrap();
    let rel = format!(".runner/main/patches/{state}/{id}.json");
    t.write(&rel, serde_json::to_vec_pretty(envelope).unwrap());
    let file = std::fs::File::options().write(true).open(t.join(&rel)).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(1000 + age)).unwrap();
}

pub(crate) fn state_of(t: &Test, id: &str) -> Option<&'static str> {
    ["incoming", "pending", "approved", "applying", "applied", "failed"]
        .into_iter()
        .find(|s| t.exists(&format!(".runner/main/patches/{s}/{id}.json")))
}

pub(crate) fn result(t: &Test, id: &str) -> Value {
    serde_json::from_str(&t.read(&format!(".runner/main/results/{id}.json"))).unwrap()
}

pub(crate) fn events(t: &Test) -> Vec<Value> {
    t.read(".runner/events.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Every file and directory under `dir` with its bytes and mode: two equal snapshots are
/// byte-identical trees.
pub(crate) fn snapshot(dir: &Path) -> BTreeMap<String, (Option<Vec<u8>>, u32)> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir).min_depth(1) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(dir).unwrap().to_string_lossy().into_owned();
        let meta = entry.metadata().unwrap();
        let bytes = meta.is_file().then(|| std::fs::read(entry.path()).unwrap());
        out.insert(rel, (bytes, meta.permissions().mode()));
    }
    out
}
