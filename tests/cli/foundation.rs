//! init, status, mode, config, locks, the audit log.

use crate::support::Test;

#[test]
fn init_then_status_on_a_fresh_home() {
    let t = Test::new();
    t.run(["init"]).success().stdout_contains("runner.toml");
    assert!(t.exists(".runner/main/patches/pending"));
    let status = t.run(["status", "--json"]).success().json();
    assert_eq!(status["mode"], "auto");
    assert_eq!(status["envs"]["main"]["pending"], 0);
    assert!(status["envs"]["main"]["oldest_pending_age_s"].is_null());
}
