//! watchdog under faults: a run killed in the middle of a restart, a crash loop under a
//! `process` check, a stale pidfile, children that ignore TERM, a fat child, a request with the
//! budget spent, and a forged state naming pid 0 or 1. Real processes and the real binary.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::BIN;
use crate::watchdog::{Fixture, Stranger, component, running};

/// Poll `done` until it holds; panic with `what` after 20 s.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The pids a component wrote to `file`, one a line, as it started.
fn pids(f: &Fixture, file: &str) -> Vec<i64> {
    if !f.t.exists(file) {
        return Vec::new();
    }
    f.t.read(file).lines().map(|l| l.trim().parse().unwrap()).collect()
}

/// SIGKILLs these pids when the test ends (processes that are not group leaders, which the
/// fixture's group kill misses once their leader is gone).
struct KillOnDrop(Vec<i64>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for pid in &self.0 {
            // SAFETY: kill has no memory effects; these are processes this test started.
            unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
        }
    }
}

/// `runner watchdog --json` whatever its exit code.
fn cycle_any(f: &Fixture) -> Value {
    let out = f.t.command(["watchdog", "--json"]).stdin(Stdio::null()).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("no JSON report: {}", String::from_utf8_lossy(&out.stderr)));
    if let Some(pid) = component(&report)["pid"].as_i64() {
        f.started.borrow_mut().push(pid as i32);
    }
    report
}

const RESTARTED_ON_REQUEST: &str = r#"
[[check]]
name = "up"
process = "state/svc.pid"

[[component]]
name = "svc"
check = "up"
start = ["sh", "-c", "echo $$ >> instances; exec sleep 1000"]
backoff = "0s"
max_restarts = 50
window = "1h"
start_secs = "300ms"
"#;

#[test]
fn a_run_killed_anywhere_in_a_restart_leaves_one_instance_and_counts_every_start() {
    let f = Fixture::new(RESTARTED_ON_REQUEST);
    assert_eq!(component(&f.cycle(&[], 0))["action"], "restarted");
    let mut attempts = 1;
    for point in ["before-stop", "after-stop", "after-spawn", "after-record", "outside"] {
        f.t.write(".runner/state/restart-requests/svc", "{}");
        let mut killed = f.t.command(["watchdog"]);
        killed.stdout(Stdio::null()).stderr(Stdio::null());
        if point == "outside" {
            // SIGKILL from outside while the new instance is being watched for start_secs.
            let before = pids(&f, "instances").len();
            let mut child = killed.spawn().unwrap();
            wait_for("the new instance", || pids(&f, "instances").len() > before);
            child.kill().unwrap();
            child.wait().unwrap();
        } else {
            let status = killed.env("RUNNER_TEST_WATCHDOG_KILL_AT", point).status().unwrap();
            assert_eq!(status.signal(), Some(libc::SIGKILL), "{point}: the kill point was not reached");
        }
        attempts += 1;
        f.started.borrow_mut().extend(pids(&f, "instances").iter().map(|p| *p as i32));
        // One complete run settles what the killed one left, then answers the request.
        let r = f.cycle(&[], 0);
        if r["components"][0]["action"] == "restarted" {
            attempts += 1;
        }
        let all = pids(&f, "instances");
        f.started.borrow_mut().extend(all.iter().map(|p| *p as i32));
        let live: Vec<_> = all.iter().copied().filter(|p| running(*p)).collect();
        assert_eq!(live.len(), 1, "{point}: instances running: {live:?} of {all:?}; {r}");
        assert_eq!(f.state("svc")["pid"], live[0], "{point}");
        assert_eq!(f.t.read(".runner/state/svc.pid").trim(), live[0].to_string(), "{point}");
        let counted = f.state("svc")["restart_times"].as_array().unwrap().len();
        assert_eq!(counted, attempts, "{point}: starts counted");
        assert!(counted >= all.len(), "{point}: {} starts, {counted} counted", all.len());
        assert!(f.state("svc").get("pending_start").is_none(), "{point}");
    }
}

#[test]
fn a_lost_state_does_not_start_a_second_instance() {
    let f = Fixture::new(RESTARTED_ON_REQUEST);
    let pid = component(&f.cycle(&[], 0))["pid"].as_i64().unwrap();
    f.t.write(".runner/state/watchdog.json", "{lost");
    let r = f.t.run(["watchdog", "--json"]).success().stderr_contains("moved it to").json();
    assert_eq!((component(&r)["action"].as_str(), component(&r)["pid"].as_i64()), (Some("none"), Some(pid)), "{r}");
    assert_eq!(pids(&f, "instances"), [pid]);
    assert_eq!(f.state("svc")["pid"], pid);
    assert_eq!(f.events("component.adopt").len(), 1);
    // health-check knows it too: started by the watchdog for this component.
    let report = f.t.run(["health-check", "--json"]).success().json();
    assert_eq!(report["checks"][0]["healthy"], true, "{report}");
}

#[test]
fn a_crash_loop_under_a_process_check_keeps_its_budget_and_alerts_once() {
    let (f, slack) = Fixture::with_slack(
        r#"
[[check]]
name = "up"
process = "state/flaky.pid"

[[component]]
name = "flaky"
check = "up"
start = ["sh", "-c", "echo $$ >> instances; sleep 0.2"]
max_restarts = 2
window = "1h"
backoff = "0s"
cooldown = "0s"
"#,
    );
    for _ in 0..6 {
        let r = cycle_any(&f);
        assert_eq!(component(&r)["healthy"], false, "{r}");
    }
    assert_eq!(pids(&f, "instances").len(), 2, "starts beyond the budget of 2 in the window");
    assert_eq!(f.state("flaky")["state"], "open");
    let restarts = f.events("component.restart");
    assert!(restarts.iter().all(|e| e["healthy"] == false), "{restarts:?}");
    assert!(restarts[0]["message"].as_str().unwrap().contains("before it had been up 1s"), "{restarts:?}");
    let hits = slack.hits();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(hits[0].body.contains("still unhealthy"), "{}", hits[0].body);
}

#[test]
fn a_pidfile_naming_an_unrelated_live_process_leads_to_a_start() {
    let mut stranger = Stranger::spawn();
    let stranger_pid = stranger.0.id() as i64;
    let f = Fixture::new(
        "[[check]]\nname = \"up\"\nprocess = \"state/svc.pid\"\n\n[[component]]\nname = \"svc\"\ncheck = \"up\"\n\
         start = [\"sleep\", \"1000\"]\nstart_secs = \"100ms\"\n",
    );
    f.t.write(".runner/state/svc.pid", format!("{stranger_pid}\n"));
    let r = f.cycle(&[], 0);
    assert_eq!(component(&r)["action"], "restarted", "{r}");
    let events = f.events("component.restart");
    assert!(events[0]["reason"].as_str().unwrap().contains("set process_match"), "{events:?}");
    assert!(component(&r)["message"].as_str().unwrap().contains(&format!("left pid {stranger_pid} alone")), "{r}");
    assert_ne!(component(&r)["pid"].as_i64().unwrap(), stranger_pid);
    assert!(stranger.0.try_wait().unwrap().is_none(), "the unrelated process was killed");
    assert_eq!(component(&f.cycle(&[], 0))["action"], "none");
}

#[test]
fn children_that_ignore_term_are_gone_after_a_restart_even_when_the_leader_is_a_zombie() {
    let f = Fixture::new(
        "[[check]]\nname = \"up\"\nprocess = \"state/svc.pid\"\n\n[[component]]\nname = \"svc\"\ncheck = \"up\"\n\
         start = [\"sh\", \"svc.sh\"]\nstart_secs = \"100ms\"\nstop_grace = \"300ms\"\nbackoff = \"0s\"\n",
    );
    // The leader dies on TERM; its two children ignore it.
    f.t.write("svc.sh", "for i in 1 2; do sh -c 'trap \"\" TERM; echo $$ >> kids; exec sleep 1000' & done\nwait\n");
    // The first start's leader is orphaned to a parent that never reaps it (a subreaper that
    // then sleeps), so once it dies it stays a zombie, as under an init that reaps slowly.
    let script = "\"$0\" watchdog --json; exec sleep 1000";
    let mut parent = Command::new("sh");
    parent.args(["-c", script, BIN]).current_dir(f.t.path()).env("HOME", f.t.path()).stdout(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("RUNNER_") {
            parent.env_remove(key);
        }
    }
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        parent.pre_exec(|| {
            if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut parent = parent.spawn().unwrap();
    let _parent = KillOnDrop(vec![parent.id() as i64]);
    wait_for("two children", || pids(&f, "kids").len() == 2);
    let kids = pids(&f, "kids");
    let _kids = KillOnDrop(kids.clone());
    wait_for("the first run to end", || f.t.exists(".runner/state/heartbeats/watchdog.json"));
    let leader = f.state("svc")["pid"].as_i64().unwrap();
    f.started.borrow_mut().push(leader as i32);
    f.t.write(".runner/state/restart-requests/svc", "{}");
    let r = f.cycle(&[], 0);
    assert_eq!(component(&r)["action"], "restarted", "{r}");
    let stat = std::fs::read_to_string(format!("/proc/{leader}/stat")).unwrap_or_default();
    assert!(stat.contains(") Z "), "the old leader should be a zombie here: {stat:?}");
    for kid in kids {
        assert!(!running(kid), "child {kid} of the old instance survived the restart");
    }
    let _ = parent.kill();
    let _ = parent.wait();
}

#[test]
fn a_child_over_the_memory_limit_is_restarted() {
    let f = Fixture::new(
        "[[check]]\nname = \"ready\"\ncommand = \"test -f ready\"\n\n[[component]]\nname = \"svc\"\n\
         check = \"ready\"\nstart = [\"sh\", \"svc.sh\"]\nmemory_limit = \"20MiB\"\nstart_secs = \"100ms\"\n\
         start_timeout = \"2s\"\nbackoff = \"0s\"\n",
    );
    // A small `sh` leader whose child holds over 30 MB, then says it is ready (not before).
    f.t.write(
        "svc.sh",
        "rm -f ready\nawk 'BEGIN { s = \"x\"; while (length(s) < 30000000) s = s s; \
         system(\"echo $PPID >> kids; touch ready; exec sleep 1000\") }' &\nwait\n",
    );
    let r = f.cycle(&[], 1);
    let first = component(&r)["pid"].as_i64().unwrap();
    assert_eq!(component(&r)["action"], "restart-failed", "{r}");
    assert!(component(&r)["message"].as_str().unwrap().contains("over 20MiB"), "{r}");
    let fat = pids(&f, "kids");
    let _fat = KillOnDrop(fat.clone());
    let r = f.cycle(&[], 1);
    assert_eq!(component(&r)["action"], "restart-failed", "{r}");
    assert!(!running(first), "the old leader was not stopped");
    assert!(fat.iter().all(|p| !running(*p)), "the fat child of the old instance survived");
}

#[test]
fn a_request_with_the_budget_spent_is_refused_and_leaves_the_circuit_alone() {
    let (f, slack) = Fixture::with_slack(
        "[[check]]\nname = \"up\"\nprocess = \"state/svc.pid\"\n\n[[component]]\nname = \"svc\"\ncheck = \"up\"\n\
         start = [\"sleep\", \"1000\"]\nstart_secs = \"100ms\"\nmax_restarts = 1\nwindow = \"1h\"\n",
    );
    let pid = component(&f.cycle(&[], 0))["pid"].as_i64().unwrap();
    for _ in 0..2 {
        f.t.write(".runner/state/restart-requests/svc", r#"{"requested_by":"U1"}"#);
        let r = f.cycle(&[], 0);
        let c = component(&r);
        assert_eq!(
            (c["action"].as_str(), c["state"].as_str(), c["pid"].as_i64()),
            (Some("none"), Some("closed"), Some(pid))
        );
        assert!(c["message"].as_str().unwrap().contains("restart request refused: the restart budget is spent"), "{r}");
        assert!(!f.t.exists(".runner/state/restart-requests/svc"));
    }
    assert!(running(pid));
    let refused = f.events("component.restart-refused");
    assert_eq!(refused.len(), 2);
    assert_eq!(refused[0]["actor"], "slack:U1");
    assert!(slack.hits().is_empty(), "{:?}", slack.hits());
}

#[test]
fn a_forged_state_naming_pid_0_or_1_signals_nothing() {
    let init_ticks: u64 = {
        let stat = std::fs::read_to_string("/proc/1/stat").unwrap();
        stat.rsplit_once(')').unwrap().1.split_whitespace().nth(19).unwrap().parse().unwrap()
    };
    for (pid, ticks) in [(0, 0), (1, init_ticks)] {
        let f = Fixture::new(
            "[[check]]\nname = \"never\"\ncommand = \"false\"\n\n[[component]]\nname = \"svc\"\ncheck = \"never\"\n\
             start = [\"sleep\", \"1000\"]\nstart_timeout = \"100ms\"\nstart_secs = \"0s\"\nstop_grace = \"100ms\"\n",
        );
        f.t.write(
            ".runner/state/watchdog.json",
            format!(r#"{{"components":{{"svc":{{"state":"closed","pid":{pid},"start_ticks":{ticks}}}}}}}"#),
        );
        // A bystander in the watchdog's own process group: what kill(0) would reach.
        let mut bystander = Command::new("sleep").arg("1000").process_group(0).spawn().unwrap();
        let _bystander = KillOnDrop(vec![bystander.id() as i64]);
        let out = f.t.command(["watchdog", "--json"]).process_group(bystander.id() as i32).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "pid {pid}: {:?} {}", out.status, String::from_utf8_lossy(&out.stderr));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        f.started.borrow_mut().push(component(&report)["pid"].as_i64().unwrap() as i32);
        assert!(
            component(&report)["message"].as_str().unwrap().contains(&format!("refused to signal pid {pid}")),
            "{report}"
        );
        assert!(bystander.try_wait().unwrap().is_none(), "pid {pid}: the bystander was signalled");
    }
}
