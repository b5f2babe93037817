//! What /proc says about one process (alive, zombie, start time, CPU, memory), and signals sent
//! only to a process or group whose identity has been checked.
//!
//! A pid alone names nothing for long: after a crash the kernel hands the number to someone else.
//! So whoever starts a process records its start time (field 22 of /proc/<pid>/stat, in clock
//! ticks since boot) beside the pid, and nothing is ever signalled unless both still match.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// A pid and the start time that makes it unambiguous.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub pid: u32,
    /// Clock ticks after boot at which the process started.
    pub start_ticks: u64,
}

/// One reading of /proc/<pid>/stat.
#[derive(Debug, Clone, Copy)]
pub struct Stat {
    /// `R`, `S`, `D`, `Z`, `T`, …
    pub state: char,
    pub pgrp: i32,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    pub start_ticks: u64,
}

impl Stat {
    /// Read /proc/<pid>/stat; `None` when there is no such process.
    pub fn read(pid: u32) -> Option<Stat> {
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
    pub fn alive(&self) -> bool {
        !matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// The process `id` names, if it is still that process and has not exited.
pub fn alive(id: Identity) -> bool {
    Stat::read(id.pid).is_some_and(|s| s.alive() && s.start_ticks == id.start_ticks)
}

/// Resident memory in bytes (VmRSS in /proc/<pid>/status).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// CPU use in percent of one core, measured over `over`.
pub fn cpu_percent(pid: u32, over: Duration) -> Option<f64> {
    let before = Stat::read(pid)?;
    let started = Instant::now();
    std::thread::sleep(over);
    let after = Stat::read(pid)?;
    if after.start_ticks != before.start_ticks {
        return None;
    }
    let ticks = after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64;
    Some(ticks / clock_ticks_per_sec() / started.elapsed().as_secs_f64() * 100.0)
}

fn clock_ticks_per_sec() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 { hz as f64 } else { 100.0 }
}

/// The pid a pidfile holds.
pub fn read_pidfile(path: &Path) -> Result<u32> {
    let text = std::fs::read_to_string(path).with_context(|| format!("could not read pidfile {}", path.display()))?;
    match text.trim().parse::<u32>() {
        Ok(pid) if pid > 1 => Ok(pid),
        _ => bail!("pidfile {} does not hold a process id: {:?}", path.display(), text.trim()),
    }
}

/// The identity of a live process by pid, as of now.
pub fn identify(pid: u32) -> Option<Identity> {
    Stat::read(pid).filter(Stat::alive).map(|s| Identity { pid, start_ticks: s.start_ticks })
}

/// Whether any process is still in the group `id` led when it started.
///
/// The kernel does not hand out a pid while a process group of that number exists, so while
/// the group has members the number still means our group; once the leader's pid belongs to
/// another process (different start time), it does not.
fn group_remains(id: Identity) -> bool {
    match Stat::read(id.pid) {
        Some(leader) => leader.start_ticks == id.start_ticks && leader.alive(),
        None => std::fs::read_dir("/proc").into_iter().flatten().flatten().any(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
                .and_then(Stat::read)
                .is_some_and(|s| s.pgrp == id.pid as i32 && s.alive())
        }),
    }
}

/// TERM the process group `id` leads, wait up to `grace`, then KILL what is left. Touches
/// nothing unless the group is still the one `id` started; returns whether anything was signalled.
pub fn stop_group(id: Identity, grace: Duration) -> Result<bool> {
    if !group_remains(id) {
        return Ok(false);
    }
    signal_group(id, libc::SIGTERM)?;
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !group_remains(id) {
            return Ok(true);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if group_remains(id) {
        signal_group(id, libc::SIGKILL)?;
        let deadline = Instant::now() + Duration::from_secs(2);
        while group_remains(id) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    Ok(true)
}

fn signal_group(id: Identity, signal: i32) -> Result<()> {
    // SAFETY: kill has no memory effects; the negative pid addresses the group it leads.
    let rc = unsafe { libc::kill(-(id.pid as i32), signal) };
    let err = std::io::Error::last_os_error();
    if rc != 0 && err.raw_os_error() != Some(libc::ESRCH) {
        return Err(err).with_context(|| format!("could not signal process group {}", id.pid));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let me = identify(std::process::id()).unwrap();
        let impostor = Identity { start_ticks: me.start_ticks + 1, ..me };
        assert!(!stop_group(impostor, Duration::from_millis(10)).unwrap());
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
