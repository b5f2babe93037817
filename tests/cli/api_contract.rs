//! The API contract: schemathesis (from the .venv that `.ci/test-deps.sh` creates) runs all of
//! its checks against the real listener's /openapi.json: every schema-valid request accepted,
//! every invalid one refused with a 4xx, every answer as documented. Missing schemathesis fails
//! the test; it never skips.

use std::path::PathBuf;
use std::process::Command;

use crate::support::Test;
use crate::support::webhook::{Server, TOKEN};

/// `$RUNNER_PYTHON`, else the repository's `.venv/bin/python`.
fn python() -> PathBuf {
    let python = std::env::var_os("RUNNER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"));
    let found = Command::new(&python).args(["-c", "import schemathesis"]).status().is_ok_and(|s| s.success());
    assert!(found, "schemathesis is not importable from {}: run `bash .ci/test-deps.sh` once", python.display());
    python
}

#[test]
fn schemathesis_finds_no_failure_with_all_checks() {
    let python = python();
    let t = Test::new().file(
        "runner.toml",
        "[server]\ntoken_env = \"T_TOKEN\"\nhmac_secret_env = \"T_HMAC\"\nrate_limit = 0\n\
         [slack]\nsigning_secret_env = \"T_SLACK\"\n\
         [env.main]\ntree = \"tree\"\ncallback_hosts = [\"127.0.0.1\"]\n",
    );
    std::fs::create_dir_all(t.join("tree")).unwrap();
    let server = Server::start(&t);
    let hooks = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/contract");
    let out = Command::new(python)
        .args(["-m", "schemathesis.cli", "run", &format!("http://{}/openapi.json", server.addr)])
        .args(["--checks", "all", "--max-examples", "40", "--seed", "2", "--no-color"])
        .args(["--generation-database", "none", "--request-timeout", "60"])
        .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
        .env("PYTHONPATH", hooks)
        .env("SCHEMATHESIS_HOOKS", "runner_formats")
        .current_dir(t.path())
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("No issues found"),
        "schemathesis found failures:\n{stdout}\n{}\nlistener log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.stderr()
    );
    assert!(!stdout.contains(" 0 generated"), "nothing was generated:\n{stdout}");
}
