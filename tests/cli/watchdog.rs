//! watchdog: real components started, killed and restarted; the budget, the circuit and its
//! alerts (a loopback server stands in for Slack); restart requests; stale pidfiles; the lock.

use std::time::Duration;

use serde_json::Value;

use crate::support::loopback::Server;
use crate::support::{Test, wait_until};

/// A test directory whose components are killed (by the process groups the watchdog recorded)
/// when the test ends, pass or fail.
pub(crate) struct Fixture {
    pub(crate) t: Test,
    pub(crate) started: std::cell::RefCell<Vec<i32>>,
}

impl Fixture {
    pub(crate) fn new(config: &str) -> Fixture {
        Fixture { t: Test::new().file("runner.toml", config), started: Default::default() }
    }

    /// With a loopback server standing in for Slack's incoming webhook.
    pub(crate) fn with_slack(config: &str) -> (Fixture, Server) {
        let slack = Server::ok("ok");
        let f = Fixture::new(&format!("[slack]\nalert_webhook_file = \"hook\"\n\n{config}"));
        f.t.write("hook", format!("{}/hook\n", slack.url));
        (f, slack)
    }

    /// Run `runner watchdog --json ARGS`, note every pid it reports, return the report.
    pub(crate) fn cycle(&self, args: &[&str], code: i32) -> Value {
        let mut all = vec!["watchdog", "--json"];
        all.extend_from_slice(args);
        let report = self.t.run(all).code(code).json();
        for c in report["components"].as_array().unwrap() {
            if let Some(pid) = c["pid"].as_i64() {
                self.started.borrow_mut().push(pid as i32);
            }
        }
        report
    }

    pub(crate) fn state(&self, name: &str) -> Value {
        let file: Value = serde_json::from_str(&self.t.read(".runner/state/watchdog.json")).unwrap();
        file["components"][name].clone()
    }

    pub(crate) fn events(&self, action: &str) -> Vec<Value> {
        let text =
            if self.t.exists(".runner/events.jsonl") { self.t.read(".runner/events.jsonl") } else { String::new() };
        text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).filter(|e| e["action"] == action).collect()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for pid in self.started.borrow().iter() {
            // SAFETY: kill has no memory effects; these are groups this test's watchdog started.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
    }
}

pub(crate) fn component(report: &Value) -> &Value {
    &report["components"][0]
}

/// Alive and not a zombie.
pub(crate) fn running(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')))
}

fn kill(pid: i64) {
    // SAFETY: kill has no memory effects.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    wait_until(Duration::from_secs(30), &format!("process {pid} to die of SIGKILL"), || !running(pid));
}

const SLEEPER: &str = r#"
[[check]]
name = "sleeper-alive"
process = "state/sleeper.pid"

[[component]]
name = "sleeper"
check = "sleeper-alive"
start = ["sleep", "1000"]
backoff = "0s"
"#;

#[test]
fn a_component_that_dies_is_restarted_and_its_new_pid_recorded() {
    let f = Fixture::new(SLEEPER);
    let first = f.cycle(&[], 0);
    assert_eq!(component(&first)["action"], "restarted");
    let pid = component(&first)["pid"].as_i64().unwrap();
    assert!(running(pid));
    assert_eq!(f.t.read(".runner/state/sleeper.pid").trim(), pid.to_string());

    // Healthy: nothing to do.
    assert_eq!(component(&f.cycle(&[], 0))["action"], "none");

    kill(pid);
    let again = f.cycle(&[], 0);
    assert_eq!(component(&again)["action"], "restarted");
    let new_pid = component(&again)["pid"].as_i64().unwrap();
    assert_ne!(new_pid, pid);
    assert!(running(new_pid));
    assert_eq!(f.state("sleeper")["pid"], new_pid);
    assert_eq!(f.state("sleeper")["restarts"], 2);
    assert_eq!(f.t.read(".runner/state/sleeper.pid").trim(), new_pid.to_string());
    // In its own session, so it outlives the cron run that started it.
    let stat = std::fs::read_to_string(format!("/proc/{new_pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    assert_eq!(fields[3], new_pid.to_string(), "session id: {stat}");
    let restarts = f.events("component.restart");
    assert_eq!(restarts.len(), 2);
    assert_eq!(restarts[1]["pid"], new_pid);
    assert!(
        restarts[1]["reason"].as_str().unwrap().contains("zombie")
            || restarts[1]["reason"].as_str().unwrap().contains("not running")
    );
    // runner status shows the state file.
    let status = f.t.run(["status", "--json"]).success().json();
    assert_eq!(status["watchdog"]["components"]["sleeper"]["pid"], new_pid);
}

#[test]
fn a_component_that_keeps_dying_opens_the_circuit_and_alerts_once() {
    let (f, slack) = Fixture::with_slack(
        r#"
# A check the crashing component never passes (a process check could catch it alive in the
# instant before it exits).
[[check]]
name = "flaky-up"
command = "test -f up"

[[component]]
name = "flaky"
check = "flaky-up"
start = ["sh", "-c", "echo crashing; exit 1"]
max_restarts = 2
backoff = "0s"
cooldown = "1h"
"#,
    );
    for _ in 0..2 {
        let r = f.cycle(&[], 1);
        assert_eq!(component(&r)["action"], "restart-failed");
        assert!(component(&r)["message"].as_str().unwrap().contains("exited"), "{r}");
    }
    assert!(f.t.read(".runner/logs/flaky.log").contains("crashing"));
    let opened = f.cycle(&[], 1);
    assert_eq!(component(&opened)["action"], "circuit-opened");
    assert_eq!(component(&opened)["state"], "open");
    for _ in 0..3 {
        let r = f.cycle(&[], 1);
        assert_eq!(component(&r)["action"], "circuit-open");
    }
    let hits = slack.hits();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(hits[0].body.contains("component `flaky` was restarted 2 times"), "{}", hits[0].body);
    assert_eq!(f.events("component.restart").len(), 2);
    assert_eq!(f.state("flaky")["state"], "open");
}

#[test]
fn after_the_cooldown_one_trial_then_recovery_closes_the_circuit() {
    let (f, slack) = Fixture::with_slack(
        r#"
[[check]]
name = "up"
command = "test -f ready"

[[component]]
name = "svc"
check = "up"
start = ["sh", "-c", "test -f fixed && touch ready && exec sleep 1000"]
max_restarts = 1
backoff = "0s"
cooldown = "1s"
window = "3s"
"#,
    );
    assert_eq!(component(&f.cycle(&[], 1))["action"], "restart-failed");
    assert_eq!(component(&f.cycle(&[], 1))["action"], "circuit-opened");
    // Past the cooldown, and the window has room again (every start counts, trials too).
    std::thread::sleep(Duration::from_millis(3100));
    // The trial fails: half-open until the next cycle, which opens the circuit again, quietly.
    let trial = f.cycle(&[], 1);
    assert_eq!(
        (component(&trial)["action"].as_str(), component(&trial)["state"].as_str()),
        (Some("restart-failed"), Some("half-open"))
    );
    let reopened = f.cycle(&[], 1);
    assert_eq!(
        (component(&reopened)["action"].as_str(), component(&reopened)["state"].as_str()),
        (Some("reopened"), Some("open"))
    );
    assert_eq!(slack.hits().len(), 1);
    // Fixed: the next trial brings it back and the circuit closes; the trial stays counted.
    f.t.write("fixed", "");
    // Past the cooldown, and the window has room again (every start counts, trials too).
    std::thread::sleep(Duration::from_millis(3100));
    let back = f.cycle(&[], 0);
    assert_eq!(component(&back)["action"], "restarted");
    assert_eq!(component(&back)["state"], "closed");
    assert_eq!(component(&back)["restarts"], 1);
    assert!(running(component(&back)["pid"].as_i64().unwrap()));
    let hits = slack.hits();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(hits[1].body.contains("component `svc` is healthy again"), "{}", hits[1].body);
    assert_eq!(f.events("component.circuit-closed").len(), 1);
    assert_eq!(component(&f.cycle(&[], 0))["action"], "none");
}

#[test]
fn a_stale_pidfile_naming_an_unrelated_process_is_not_killed() {
    let mut stranger = Stranger::spawn();
    let stranger_pid = stranger.0.id();
    let f = Fixture::new(
        r#"
[[check]]
name = "ready"
command = "test -f ready"

[[component]]
name = "svc"
check = "ready"
start = ["sleep", "1000"]
pidfile = "state/svc.pid"
backoff = "0s"
start_timeout = "300ms"
stop_grace = "1s"
"#,
    );
    f.t.write(".runner/state/svc.pid", format!("{stranger_pid}\n"));
    // The state also remembers that pid, but with another start time: a reused number.
    f.t.write(
        ".runner/state/watchdog.json",
        format!(r#"{{"components":{{"svc":{{"state":"closed","pid":{stranger_pid},"start_ticks":1}}}}}}"#),
    );
    let r = f.cycle(&[], 1);
    assert_eq!(component(&r)["action"], "restart-failed");
    assert!(component(&r)["message"].as_str().unwrap().contains(&format!("left pid {stranger_pid} alone")), "{r}");
    let started = component(&r)["pid"].as_i64().unwrap();
    assert_ne!(started, stranger_pid as i64);
    assert!(stranger.0.try_wait().unwrap().is_none(), "the unrelated process was killed");
    // The watchdog's own process is the one it stops next time.
    let r = f.cycle(&[], 1);
    assert!(!running(started), "the previous start was not stopped");
    assert!(stranger.0.try_wait().unwrap().is_none(), "the unrelated process was killed");
    assert_ne!(component(&r)["pid"].as_i64().unwrap(), started);
}

/// An unrelated process of the test's own, killed when the test ends.
pub(crate) struct Stranger(pub(crate) std::process::Child);

impl Stranger {
    pub(crate) fn spawn() -> Stranger {
        let null = std::process::Stdio::null;
        Stranger(std::process::Command::new("sleep").arg("1000").stdout(null()).stderr(null()).spawn().unwrap())
    }
}

impl Drop for Stranger {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn two_watchdog_runs_at_once_restart_once() {
    let f = Fixture::new(SLEEPER);
    let spawn = || {
        f.t.command(["watchdog", "--json", "--wait"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let pid = f.state("sleeper")["pid"].as_i64().unwrap();
    f.started.borrow_mut().push(pid as i32);
    assert_eq!(f.events("component.restart").len(), 1);
    assert_eq!(f.state("sleeper")["restarts"], 1);
    // Without --wait, a run that finds the lock held exits 75 and touches nothing.
    let lock = std::fs::File::options().write(true).open(f.t.join(".runner/state/locks/watchdog.lock")).unwrap();
    lock.lock().unwrap();
    f.t.run(["watchdog"]).code(75).stderr_contains("lock watchdog");
}

#[test]
fn a_restart_request_is_honoured_even_when_healthy_then_removed() {
    let f = Fixture::new(&format!("{SLEEPER}stop = [\"sh\", \"-c\", \"echo asked >> stop.log\"]\n"));
    let first = component(&f.cycle(&[], 0))["pid"].as_i64().unwrap();
    f.t.write(".runner/state/restart-requests/sleeper", r#"{"requested_by":"U0123","time":"2026-11-24T01:00:00Z"}"#);
    f.t.write(".runner/state/restart-requests/ghost", "{}");
    let r = f.cycle(&[], 0);
    assert_eq!(component(&r)["action"], "restarted");
    let second = component(&r)["pid"].as_i64().unwrap();
    assert_ne!(second, first);
    assert!(!running(first), "the old process was not stopped");
    // `stop` runs before every start (the first clears leftovers), in the config's directory.
    assert_eq!(f.t.read("stop.log"), "asked\nasked\n");
    assert!(!f.t.exists(".runner/state/restart-requests/sleeper"));
    assert!(!f.t.exists(".runner/state/restart-requests/ghost"));
    let restart = f.events("component.restart");
    assert_eq!(restart.last().unwrap()["actor"], "slack:U0123");
    assert_eq!(restart.last().unwrap()["reason"], "requested");
    let refused = f.events("component.restart-refused");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["component"], "ghost");
    assert_eq!(component(&f.cycle(&[], 0))["action"], "none");
}

#[test]
fn dry_run_says_what_it_would_do_and_changes_nothing() {
    let f = Fixture::new(SLEEPER);
    let r = f.cycle(&["--dry-run"], 1);
    assert_eq!(component(&r)["action"], "would-restart");
    assert!(component(&r)["pid"].is_null());
    assert!(!f.t.exists(".runner/state/sleeper.pid"));
    assert!(!f.t.exists(".runner/state/watchdog.json"));
    assert!(f.events("component.restart").is_empty());
}

#[test]
fn a_component_over_its_memory_limit_is_restarted() {
    let f = Fixture::new(&format!("{SLEEPER}memory_limit = \"1KiB\"\nstart_timeout = \"300ms\"\n"));
    let r = f.cycle(&[], 1);
    assert_eq!(component(&r)["action"], "restart-failed");
    assert!(component(&r)["message"].as_str().unwrap().contains("over 1KiB"), "{r}");
}

#[test]
fn a_component_that_cannot_start_at_all_still_spends_its_budget() {
    let f = Fixture::new(
        "[[check]]\nname = \"c\"\ncommand = \"false\"\n\n[[component]]\nname = \"ghost\"\ncheck = \"c\"\n\
         start = [\"./no-such-program\"]\nmax_restarts = 1\nbackoff = \"0s\"\n",
    );
    let r = f.cycle(&[], 1);
    assert_eq!(component(&r)["action"], "restart-failed");
    assert!(component(&r)["message"].as_str().unwrap().contains("could not start ./no-such-program"), "{r}");
    assert!(component(&r)["pid"].is_null());
    assert_eq!(component(&f.cycle(&[], 1))["action"], "circuit-opened");
    // No Slack configured: the alert is kept in alerts.log.
    assert!(f.t.read(".runner/alerts.log").contains("component `ghost` was restarted once"));
}

#[test]
fn a_restart_is_remembered_even_when_the_audit_log_cannot_be_written() {
    let f = Fixture::new(SLEEPER);
    std::fs::create_dir_all(f.t.join(".runner/events.jsonl")).unwrap();
    f.t.run(["watchdog"]).code(2).stderr_contains("component sleeper").stderr_contains("could not open audit log");
    let pid = f.state("sleeper")["pid"].as_i64().expect("the started process is remembered");
    f.started.borrow_mut().push(pid as i32);
    assert!(running(pid));
    // The next cycle knows it is running and leaves it be.
    std::fs::remove_dir(f.t.join(".runner/events.jsonl")).unwrap();
    let r = f.cycle(&[], 0);
    assert_eq!((component(&r)["action"].as_str(), component(&r)["pid"].as_i64()), (Some("none"), Some(pid)));
}

#[test]
fn unknown_components_and_empty_configs() {
    let f = Fixture::new(SLEEPER);
    f.t.run(["watchdog", "nope"])
        .code(2)
        .stderr_contains("no component is named \"nope\"; runner.toml defines sleeper");
    f.t.write("runner.toml", "[[component]]\nname = \"x\"\ncheck = \"missing\"\nstart = [\"true\"]\n");
    f.t.run(["watchdog"]).code(2).stderr_contains("names check \"missing\"");
    f.t.write("runner.toml", "[[check]]\nname = \"c\"\ncommand = \"true\"\n[[component]]\nname = \"../x\"\ncheck = \"c\"\nstart = [\"true\"]\n");
    f.t.run(["watchdog"]).code(2).stderr_contains("component name \"../x\"");
    f.t.write("runner.toml", "");
    f.t.run(["watchdog"]).success().stdout_contains("no components configured");
    assert!(f.t.exists(".runner/state/heartbeats/watchdog.json"));
}
