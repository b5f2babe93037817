//! Builds the store `benches/docs.sh` measures: one environment with N patch records (queue
//! files, results, summaries two to four days old, backups), written with plain writes because
//! durability does not matter for a fixture. Usage: `cargo bench --bench docs_fixture -- DIR N`.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use chrono::{TimeZone, Utc};
use runner::testing::Home;
use runner::testing::queue::State;
use runner::testing::results::{FileResult, Outcome, PatchResult, SCHEMA};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let (Some(dir), Some(n)) = (args.first(), args.get(1).and_then(|n| n.parse::<usize>().ok())) else {
        // A plain `cargo bench` runs this too: nothing to measure here, benches/docs.sh does.
        eprintln!("docs_fixture builds the store benches/docs.sh measures: cargo bench --bench docs_fixture -- DIR N");
        return;
    };
    let root = Path::new(dir);
    fs::create_dir_all(root).unwrap();
    fs::write(root.join("runner.toml"), "home = \"home\"\n[env.main]\ntree = \".\"\n").unwrap();
    let home = Home::new(root.join("home"));
    home.create_layout(["main"]).unwrap();
    let epoch = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let now = SystemTime::now();
    for i in 0..n {
        let id = format!("p{i:07}");
        let failed = i % 10 == 9;
        let state = if failed { State::Failed } else { State::Applied };
        let started = epoch + chrono::Duration::seconds(i as i64 * 37);
        let result = PatchResult {
            schema: SCHEMA,
            id: id.clone(),
            env: "main".into(),
            state,
            outcome: if failed { Outcome::Refused } else { Outcome::Applied },
            description: Some(format!("Change {i}: tidy module {}", i % 97)),
            author: Some(format!("gpt-{}", i % 7)),
            format: "unified".into(),
            received_at: Some(started - chrono::Duration::seconds(5)),
            started_at: started,
            finished_at: started + chrono::Duration::milliseconds((i % 500) as i64 + 20),
            duration_ms: (i % 500) as u64 + 20,
            files: vec![FileResult {
                path: format!("src/mod{}/file{}.rs", i % 97, i % 1013),
                action: "modify".into(),
                from: None,
                added: (i % 13) as u64,
                removed: (i % 5) as u64,
                matched: Some("exact".into()),
            }],
            checks: Vec::new(),
            reason: failed.then(|| format!("hunk {} did not match src/mod{}/file.rs", i % 3 + 1, i % 4)),
            reverted_at: None,
            reverted_by: None,
            commit: None,
            revert_commit: None,
        };
        fs::write(home.result_file("main", &id).unwrap(), serde_json::to_vec_pretty(&result).unwrap()).unwrap();
        let envelope = serde_json::json!({"id": id, "env": "main", "description": result.description, "patch": "--- a/x\n+++ b/x\n"});
        fs::write(home.queue_dir("main", state).join(format!("{id}.json")), envelope.to_string()).unwrap();
        let summary = home.summary_file("main", &id).unwrap();
        fs::write(&summary, format!("# {id}\n\n{}\n", result.description.as_deref().unwrap_or(""))).unwrap();
        let age = Duration::from_secs(2 * 86_400 + (i as u64 % 172_800));
        fs::File::options().write(true).open(&summary).unwrap().set_modified(now - age).unwrap();
        if !failed {
            let backup = home.backups_dir("main").join(&id);
            fs::create_dir_all(backup.join("files")).unwrap();
            fs::write(backup.join("manifest.json"), format!("{{\"id\":\"{id}\"}}\n")).unwrap();
            fs::write(backup.join("files/original"), "fn main() {}\n").unwrap();
        }
    }
}
