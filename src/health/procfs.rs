//! What /proc says about one process (alive, zombie, start time, CPU, memory), and signals sent
//! only to a process or group whose identity has been checked.
//!
//! A pid alone names nothing for long: after a crash the kernel hands the number to someone else.
//! So whoever starts a process records its start time (field 22 of /proc/<pid>/stat, in clock
//! ticks since boot) beside the pid, and nothing is ever signalled unless both still match.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rustix::process::{Pid, Signal};
use serde::{Deserialize, Serialize};

/// A pid and the start time that makes it unambiguous.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Identity {
    pub pid: u32,
    /// Clock ticks after boot at which the process started.
    pub start_ticks: u64,
}

/// One reading of /proc/<pid>/stat.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stat {
    /// `R`, `S`, `D`, `Z`, `T`, …
    pub state: char,
    pub pgrp: i32,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    pub start_ticks: u64,
}

impl Stat {
    /// Read /proc/<pid>/stat; `None` when there is no such process.
    pub(crate) fn read(pid: u32) -> Option<Stat> {
        Stat::parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// The command name in field 2 may hold spaces and parentheses, so fields are counted
    /// from the last `)`.
    fn parse(text: &str) -> Option<Stat> {
        let rest = &text[text.rfind(')')? + 1..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        // f[0] is field 3 (state); field N is f[N - 3].
        let num = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
        Some(Stat {
            state: f.first()?.chars().next()?,
            pgrp: f.get(2)?.parse().ok()?,
            cpu_ticks: num(14)? + num(15)?,
            start_ticks: num(22)?,
        })
    }

    /// A zombie has exited and only waits to be reaped; a dead task (`X`) is on its way out.
    pub(crate) fn alive(&self) -> bool {
        !matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// The process `id` names, if it is still that process and has not exited.
pub(crate) fn alive(id: Identity) -> bool {
    Stat::read(id.pid).is_some_and(|s| s.alive() && s.start_ticks == id.start_ticks)
}

/// Resident memory in bytes (VmRSS in /proc/<pid>/status).
pub(crate) fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Every live process /proc lists, with its stat.
fn every_process() -> impl Iterator<Item = (u32, Stat)> {
    std::fs::read_dir("/proc").into_iter().flatten().flatten().filter_map(|e| {
        let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
        Some((pid, Stat::read(pid).filter(Stat::alive)?))
    })
}

/// The live process `pid` and, when it leads a process group, every live member of that group:
/// what a component is, for its limits (a `sh -c` leader is small; its children are not).
pub(crate) fn family(pid: u32) -> Vec<(u32, Stat)> {
    every_process().filter(|(p, s)| *p == pid || s.pgrp == pid as i32).collect()
}

/// Resident memory of [`family`], summed; `None` when the process is gone.
pub(crate) fn family_rss(pid: u32) -> Option<u64> {
    let members = family(pid);
    if !members.iter().any(|(p, _)| *p == pid) {
        return None;
    }
    Some(members.iter().filter_map(|(p, _)| rss_bytes(*p)).sum())
}

/// CPU use of [`family`] in percent of one core, measured over `over`; a member that starts
/// during the sample counts with all it used. `None` when the process is gone by the end.
pub(crate) fn family_cpu_percent(pid: u32, over: Duration) -> Option<f64> {
    let before: std::collections::HashMap<u32, Stat> = family(pid).into_iter().collect();
    let leader = *before.get(&pid)?;
    let started = Instant::now();
    std::thread::sleep(over);
    let after = family(pid);
    let (_, now) = after.iter().find(|(p, _)| *p == pid)?;
    if now.start_ticks != leader.start_ticks {
        return None;
    }
    let ticks: u64 = after
        .iter()
        .map(|(p, s)| match before.get(p) {
            Some(b) if b.start_ticks == s.start_ticks => s.cpu_ticks.saturating_sub(b.cpu_ticks),
            _ => s.cpu_ticks,
        })
        .sum();
    Some(ticks as f64 / clock_ticks_per_sec() / started.elapsed().as_secs_f64() * 100.0)
}

/// How long the process `id` names has been running; `None` when it is not that process.
pub(crate) fn age(id: Identity) -> Option<Duration> {
    let stat = Stat::read(id.pid).filter(|s| s.alive() && s.start_ticks == id.start_ticks)?;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime").ok()?.split_whitespace().next()?.parse().ok()?;
    let started = stat.start_ticks as f64 / clock_ticks_per_sec();
    Some(Duration::from_secs_f64((uptime - started).max(0.0)))
}

/// Whether the process runs `pattern`: a substring of its executable's path or of its command
/// line (arguments joined by spaces). For a pidfile nobody recorded a start time for.
pub(crate) fn runs(pid: u32, pattern: &str) -> Result<(), String> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).map(|p| p.display().to_string()).unwrap_or_default();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline).split('\0').filter(|a| !a.is_empty()).collect::<Vec<_>>().join(" ");
    if exe.contains(pattern) || cmdline.contains(pattern) {
        return Ok(());
    }
    let shown = if cmdline.is_empty() { exe } else { cmdline };
    Err(format!("pid {pid} runs {shown:?}, which does not match process_match {pattern:?}"))
}

/// Whether the environment the process `pid` started with has a variable starting with
/// `prefix` (`NAME=` and the start of a value). Only this user's processes are readable, which
/// is all the watchdog can have started.
pub(crate) fn env_starts_with(pid: u32, prefix: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v.starts_with(prefix.as_bytes())))
}

/// The process group holding a live process whose environment has `entry` (`NAME=value`), as
/// the identity of its leader: how a run finds what a killed run started before it could write
/// the pid down.
pub(crate) fn find_by_env(entry: &str) -> Option<Identity> {
    let (pid, stat) = every_process().find(|(pid, _)| {
        std::fs::read(format!("/proc/{pid}/environ"))
            .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == entry.as_bytes()))
    })?;
    let leader = u32::try_from(stat.pgrp).ok()?;
    // The leader may be gone while its group lives on; the group number still names it then.
    let start_ticks = Stat::read(leader).map_or(stat.start_ticks, |s| s.start_ticks);
    Some(Identity { pid: if leader > 1 { leader } else { pid }, start_ticks })
}

fn clock_ticks_per_sec() -> f64 {
    match rustix::param::clock_ticks_per_second() {
        0 => 100.0,
        hz => hz as f64,
    }
}

/// The pid a pidfile holds.
pub(crate) fn read_pidfile(path: &Path) -> Result<u32> {
    let text = std::fs::read_to_string(path).with_context(|| format!("could not read pidfile {}", path.display()))?;
    match text.trim().parse::<u32>() {
        Ok(pid) if pid > 1 => Ok(pid),
        _ => bail!("pidfile {} does not hold a process id: {:?}", path.display(), text.trim()),
    }
}

/// The identity of a live process by pid, as of now.
pub(crate) fn identify(pid: u32) -> Option<Identity> {
    Stat::read(pid).filter(Stat::alive).map(|s| Identity { pid, start_ticks: s.start_ticks })
}

/// Whether any live process is still in the group `id` led when it started. The leader is not
/// the group: it may have died (a zombie, or reaped) while children that ignore TERM live on.
///
/// The kernel does not hand out a pid while a process group of that number exists, so while
/// the group has members the number still means our group; once the leader's pid belongs to
/// another process (different start time), it does not.
fn group_remains(id: Identity) -> bool {
    if Stat::read(id.pid).is_some_and(|leader| leader.start_ticks != id.start_ticks) {
        return false;
    }
    every_process().any(|(_, s)| s.pgrp == id.pid as i32)
}

/// The pids no state file can make the watchdog signal, whatever it says: 0 and 1 (as a group,
/// `kill(0)` is our own group and `kill(-1)` every process we may signal), our own process and
/// group, and numbers the kernel never hands out.
pub(crate) fn may_signal(pid: u32) -> Result<()> {
    let own_group = rustix::process::getpgrp().as_raw_nonzero().get() as u32;
    let why = if pid <= 1 {
        "it is not a process group the watchdog can have started"
    } else if pid == std::process::id() || pid == own_group {
        "it is the watchdog's own process or group"
    } else if pid > pid_max() {
        "it is above the kernel's pid_max"
    } else {
        return Ok(());
    };
    bail!("refused to signal pid {pid}: {why}")
}

/// /proc/sys/kernel/pid_max, or the largest value Linux allows when it cannot be read.
fn pid_max() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/pid_max").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(1 << 22)
}

/// TERM the process group `id` leads, wait up to `grace`, then KILL what is left. Touches
/// nothing unless the group is still the one `id` started and [`may_signal`] allows its number;
/// returns whether anything was signalled.
pub(crate) fn stop_group(id: Identity, grace: Duration) -> Result<bool> {
    may_signal(id.pid)?;
    if !group_remains(id) {
        return Ok(false);
    }
    signal_group(id, Signal::TERM)?;
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !group_remains(id) {
            return Ok(true);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if group_remains(id) {
        signal_group(id, Signal::KILL)?;
        let deadline = Instant::now() + Duration::from_secs(2);
        while group_remains(id) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    Ok(true)
}

fn signal_group(id: Identity, signal: Signal) -> Result<()> {
    let pid = i32::try_from(id.pid).ok().and_then(Pid::from_raw).context("no such process group")?;
    match rustix::process::kill_process_group(pid, signal) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
        Err(e) => Err(std::io::Error::from(e)).with_context(|| format!("could not signal process group {}", id.pid)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn parses_stat_with_a_hostile_command_name() {
        let line = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 98765 1000 200 0";
        let s = Stat::parse(line).unwrap();
        assert_eq!(s.state, 'S');
        assert_eq!(s.pgrp, 4242);
        assert_eq!(s.cpu_ticks, 10);
        assert_eq!(s.start_ticks, 98765);
        assert!(s.alive());
        assert!(!Stat::parse("4242 (z) Z 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0").unwrap().alive());
        assert!(Stat::parse("garbage").is_none());
    }

    #[test]
    fn knows_itself_and_refuses_a_wrong_start_time() {
        let me = identify(std::process::id()).unwrap();
        assert!(alive(me));
        assert!(!alive(Identity { start_ticks: me.start_ticks + 1, ..me }));
        assert!(rss_bytes(me.pid).unwrap() > 0);
    }

    #[test]
    fn a_group_with_another_start_time_is_not_signalled() {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("sleep").arg("1000").process_group(0).spawn().unwrap();
        let id = identify(child.id()).unwrap();
        let impostor = Identity { start_ticks: id.start_ticks + 1, ..id };
        assert!(!stop_group(impostor, Duration::from_millis(10)).unwrap());
        assert!(child.try_wait().unwrap().is_none());
        assert!(stop_group(id, Duration::from_secs(5)).unwrap());
        assert!(child.wait().unwrap().signal().is_some());
    }

    #[test]
    fn pids_no_state_may_name_are_refused() {
        let own_group = rustix::process::getpgrp().as_raw_nonzero().get() as u32;
        for pid in [0, 1, std::process::id(), own_group, u32::MAX, i32::MAX as u32 + 1] {
            let err = may_signal(pid).unwrap_err().to_string();
            assert!(err.starts_with(&format!("refused to signal pid {pid}")), "{err}");
            assert!(stop_group(Identity { pid, start_ticks: 0 }, Duration::ZERO).is_err());
        }
        assert!(may_signal(2).is_ok());
    }

    #[test]
    fn pidfiles_must_hold_a_pid() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.pid");
        std::fs::write(&p, "1234\n").unwrap();
        assert_eq!(read_pidfile(&p).unwrap(), 1234);
        std::fs::write(&p, "hello").unwrap();
        assert!(read_pidfile(&p).unwrap_err().to_string().contains("does not hold a process id"));
        std::fs::write(&p, "1").unwrap();
        assert!(read_pidfile(&p).is_err());
    }
}
