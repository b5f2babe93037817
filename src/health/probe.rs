//! The probes: one `[[check]]` in, a verdict and a one-line reason out. A probe never returns
//! an error: anything that goes wrong while probing is the reason it failed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use super::{launch, procfs};
use crate::config::CheckConfig;
use crate::config::Settings;
use crate::config::units::Size;
use crate::store::queue::{self, State};
use crate::store::{Home, heartbeat};
use crate::time::age;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
const DEFAULT_MIN_FREE: u64 = 1 << 30;
const DEFAULT_MAX_PENDING: usize = 20;
const DEFAULT_MAX_PENDING_AGE: Duration = Duration::from_secs(3600);
/// How long the CPU of a process is watched to measure its use.
const CPU_SAMPLE: Duration = Duration::from_millis(200);
/// Bodies beyond this are not read (a health endpoint answers in a few bytes).
const BODY_LIMIT: u64 = 1 << 20;

/// One probe's verdict.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Verdict {
    pub ok: bool,
    pub message: String,
    pub duration_ms: u64,
}

/// What probes need besides the check itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Env<'a> {
    pub settings: &'a Settings,
    pub home: &'a Home,
}

impl Env<'_> {
    /// The config file's directory: where operator commands run.
    pub(crate) fn base_dir(&self) -> PathBuf {
        match self.settings.source.as_deref().and_then(Path::parent) {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

/// Probe `check` once.
pub(crate) fn run(check: &CheckConfig, env: Env) -> Verdict {
    let started = Instant::now();
    let result = if let Some(url) = &check.http {
        http(check, url)
    } else if let Some(addr) = &check.tcp {
        tcp(check, addr)
    } else if let Some(pidfile) = &check.process {
        process(check, &env.home.root().join(pidfile), env)
    } else if let Some(beat) = &check.heartbeat {
        heartbeat(check, beat, env.home)
    } else if let Some(path) = &check.disk {
        disk(check, path)
    } else if let Some(name) = &check.queue {
        queue(check, name, env.home)
    } else if let Some(command) = &check.command {
        command_probe(check, command, &env.base_dir())
    } else {
        Err(format!("check {:?} has nothing to probe", check.name))
    };
    let duration_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(message) => Verdict { ok: true, message, duration_ms },
        Err(message) => Verdict { ok: false, message, duration_ms },
    }
}

/// `Ok(reason)` healthy, `Err(reason)` not.
type Outcome = Result<String, String>;

fn http(check: &CheckConfig, url: &str) -> Outcome {
    let timeout = check.timeout.map_or(DEFAULT_TIMEOUT, |t| t.std());
    let mut resp = crate::notify::agent(timeout).get(url).call().map_err(|e| match e {
        ureq::Error::Timeout(_) => format!("GET {url}: no answer within {}", crate::config::units::Duration(timeout)),
        e => format!("GET {url} failed: {}", e.to_string().trim_end()),
    })?;
    let status = resp.status().as_u16();
    let status_ok = match check.expect_status {
        Some(want) => status == want,
        None => resp.status().is_success(),
    };
    if !status_ok {
        let want = check.expect_status.map_or("2xx".to_string(), |s| s.to_string());
        return Err(format!("HTTP {status}, expected {want}"));
    }
    if check.body_contains.is_none() && check.json_field.is_none() {
        return Ok(format!("HTTP {status}"));
    }
    let body = resp
        .body_mut()
        .with_config()
        .limit(BODY_LIMIT)
        .read_to_string()
        .map_err(|e| format!("HTTP {status}, but the body could not be read: {e}"))?;
    if let Some(needle) = &check.body_contains
        && !body.contains(needle.as_str())
    {
        return Err(format!("HTTP {status}, but the body lacks {needle:?}"));
    }
    if let Some(spec) = &check.json_field {
        json_field(&body, spec).map_err(|why| format!("HTTP {status}, but {why}"))?;
    }
    Ok(format!("HTTP {status}"))
}

/// `a.b.c=value`: the field must hold that value (strings compare without quotes). Without
/// `=value` the field must be present and neither null nor false.
fn json_field(body: &str, spec: &str) -> Result<(), String> {
    let (path, want) = match spec.split_once('=') {
        Some((p, v)) => (p.trim(), Some(v.trim())),
        None => (spec.trim(), None),
    };
    let value: serde_json::Value = serde_json::from_str(body).map_err(|e| format!("the body is not JSON ({e})"))?;
    let found = path
        .split('.')
        .try_fold(&value, |v, key| match v {
            serde_json::Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => v.get(key),
        })
        .ok_or_else(|| format!("the JSON body has no field {path}"))?;
    let shown = match found {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match want {
        Some(want) if shown != want => Err(format!("{path} is {shown}, expected {want}")),
        None if matches!(found, serde_json::Value::Null | serde_json::Value::Bool(false)) => {
            Err(format!("{path} is {shown}"))
        }
        _ => Ok(()),
    }
}

fn tcp(check: &CheckConfig, addr: &str) -> Outcome {
    use std::net::{TcpStream, ToSocketAddrs};
    let timeout = check.timeout.map_or(DEFAULT_TIMEOUT, |t| t.std());
    let addrs: Vec<_> = addr.to_socket_addrs().map_err(|e| format!("could not resolve {addr}: {e}"))?.collect();
    let mut last = format!("{addr} resolves to no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(_) => return Ok(format!("connected to {a}")),
            Err(e) => last = format!("could not connect to {a}: {e}"),
        }
    }
    Err(last)
}

fn process(check: &CheckConfig, pidfile: &Path, env: Env) -> Outcome {
    let pid = procfs::read_pidfile(pidfile).map_err(|e| format!("{e:#}"))?;
    live(pid)?;
    match (started_by_watchdog(env, pidfile, pid), &check.process_match) {
        (Some(id), _) if !procfs::alive(id) => {
            return Err(format!("pid {pid} is not the process the watchdog started there (the number was reused)"));
        }
        (Some(_), _) => {}
        (None, Some(pattern)) => procfs::runs(pid, pattern)?,
        (None, None) => {
            return Err(format!(
                "pid {pid} runs, but nothing says it is the right process: the watchdog did not start it; \
                 set process_match = \"…\" (a part of its command line) so a reused pid is not taken for it"
            ));
        }
    }
    process_limits(pid, check.max_rss, check.max_cpu_percent)
}

/// The identity the watchdog recorded for `pid` when it started the component whose pidfile is
/// `pidfile`, or failing a record, the process's own if the watchdog started it for that
/// component; `None` otherwise. Read only: the watchdog's state file is the watchdog's to repair.
fn started_by_watchdog(env: Env, pidfile: &Path, pid: u32) -> Option<procfs::Identity> {
    let component = env.settings.config.component.iter().find(|c| env.home.root().join(c.pidfile()) == pidfile)?;
    let recorded = std::fs::read(env.home.watchdog_file())
        .ok()
        .and_then(|text| serde_json::from_slice::<super::watchdog::WatchdogFile>(&text).ok())
        .and_then(|file| file.components.get(&component.name).and_then(|s| s.pid.zip(s.start_ticks)));
    match recorded {
        Some((p, start_ticks)) if p == pid => Some(procfs::Identity { pid, start_ticks }),
        // No record of it (the state was lost): the process vouches for itself if the watchdog
        // started it for this component.
        _ => super::watchdog::pidfile_instance(env.home, component),
    }
}

/// Running, not a zombie.
fn live(pid: u32) -> Result<(), String> {
    match procfs::Stat::read(pid) {
        None => Err(format!("process {pid} is not running")),
        Some(s) if !s.alive() => Err(format!("process {pid} is a zombie (it exited)")),
        Some(_) => Ok(()),
    }
}

/// A live (not zombie) process whose family (it and, when it leads a process group, every
/// member) stays within the memory and CPU limits. Shared with the watchdog's component limits.
pub(crate) fn process_limits(pid: u32, max_rss: Option<Size>, max_cpu: Option<f64>) -> Outcome {
    live(pid)?;
    let rss = procfs::family_rss(pid).ok_or_else(|| format!("process {pid} exited"))?;
    let mut message = format!("pid {pid}, {} resident", human_bytes(rss));
    if let Some(max) = max_rss
        && rss > max.0
    {
        return Err(format!("pid {pid} and its process group use {} resident, over {max}", human_bytes(rss)));
    }
    if let Some(max) = max_cpu {
        let used = procfs::family_cpu_percent(pid, CPU_SAMPLE).ok_or_else(|| format!("process {pid} exited"))?;
        if used > max {
            return Err(format!("pid {pid} and its process group use {used:.0}% CPU, over {max}%"));
        }
        message.push_str(&format!(", {used:.0}% CPU"));
    }
    Ok(message)
}

fn heartbeat(check: &CheckConfig, beat: &str, home: &Home) -> Outcome {
    let max_age = check.max_age.map_or(DEFAULT_MAX_AGE, |d| d.std());
    let (what, seconds) = if is_job_name(beat) {
        let hb = heartbeat::read(home, beat).map_err(|e| format!("{e:#}"))?;
        let hb = hb.ok_or_else(|| format!("job {beat} has never run"))?;
        (format!("job {beat}"), (chrono::Utc::now() - hb.time).num_milliseconds().max(0) as u64 / 1000)
    } else {
        let modified = std::fs::metadata(beat)
            .and_then(|m| m.modified())
            .map_err(|e| format!("could not read heartbeat file {beat}: {e}"))?;
        let age = SystemTime::now().duration_since(modified).unwrap_or_default();
        (beat.to_string(), age.as_secs())
    };
    if seconds > max_age.as_secs() {
        return Err(format!("{what} last beat {} ago, over {}", age(seconds), age(max_age.as_secs())));
    }
    Ok(format!("{what} beat {} ago", age(seconds)))
}

/// `apply-patch` names a runner job; anything with a `/` is a file.
pub(crate) fn is_job_name(beat: &str) -> bool {
    !beat.contains('/')
}

fn disk(check: &CheckConfig, path: &Path) -> Outcome {
    let (free, inodes) = free_space(path).map_err(|e| format!("could not stat {}: {e}", path.display()))?;
    let min_free = check.min_free.map_or(DEFAULT_MIN_FREE, |s| s.0);
    let message = format!("{} and {inodes} inodes free", human_bytes(free));
    if free < min_free {
        return Err(format!("{message} under {}, below {}", path.display(), human_bytes(min_free)));
    }
    if let Some(min) = check.min_free_inodes
        && inodes < min
    {
        return Err(format!("{message} under {}, below {min} inodes", path.display()));
    }
    Ok(message)
}

/// Bytes and inodes available to unprivileged users on the file system holding `path`.
fn free_space(path: &Path) -> std::io::Result<(u64, u64)> {
    let st = rustix::fs::statvfs(path)?;
    Ok((st.f_bavail.saturating_mul(st.f_frsize), st.f_favail))
}

fn queue(check: &CheckConfig, env: &str, home: &Home) -> Outcome {
    let mut waiting = Vec::new();
    for state in [State::Pending, State::Approved] {
        waiting.extend(queue::list(home, env, state).map_err(|e| format!("{e:#}"))?);
    }
    let max_pending = check.max_pending.unwrap_or(DEFAULT_MAX_PENDING);
    let max_age = check.max_pending_age.map_or(DEFAULT_MAX_PENDING_AGE, |d| d.std());
    let oldest =
        waiting.iter().map(|e| SystemTime::now().duration_since(e.modified).unwrap_or_default().as_secs()).max();
    let message = match oldest {
        Some(s) => format!("{env}: {} waiting, oldest {}", waiting.len(), age(s)),
        None => format!("{env}: nothing waiting"),
    };
    if waiting.len() > max_pending {
        return Err(format!("{message}; more than {max_pending}"));
    }
    if let Some(s) = oldest
        && s > max_age.as_secs()
    {
        return Err(format!("{message}; older than {}", age(max_age.as_secs())));
    }
    Ok(message)
}

fn command_probe(check: &CheckConfig, command: &str, cwd: &Path) -> Outcome {
    let timeout = check.timeout.map_or(DEFAULT_COMMAND_TIMEOUT, |t| t.std());
    let argv = ["sh".to_string(), "-c".to_string(), command.to_string()];
    let finished = launch::run_with_timeout(&argv, cwd, timeout).map_err(|e| format!("{e:#}"))?;
    let last_line = finished.output.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
    let said = if last_line.is_empty() { String::new() } else { format!(": {last_line}") };
    match finished.status {
        None => Err(format!("timed out after {}s{said}", timeout.as_secs_f64())),
        Some(s) if s.success() => Ok(format!("exit 0{said}")),
        Some(s) => Err(match s.code() {
            Some(code) => format!("exit {code}{said}"),
            None => format!("killed by a signal{said}"),
        }),
    }
}

/// `1.5 GiB`, `312 MiB`, `80 KiB`: sizes for people.
pub(crate) fn human_bytes(n: u64) -> String {
    let mut value = n as f64;
    for unit in ["B", "KiB", "MiB", "GiB"] {
        if value < 1024.0 {
            return if unit == "B" { format!("{n} B") } else { format!("{value:.1} {unit}") };
        }
        value /= 1024.0;
    }
    format!("{value:.1} TiB")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_fields() {
        let body = r#"{"status":"ok","db":{"up":true,"lag":3},"items":[{"n":"a"}],"off":false}"#;
        assert!(json_field(body, "status=ok").is_ok());
        assert!(json_field(body, "db.up").is_ok());
        assert!(json_field(body, "db.lag=3").is_ok());
        assert!(json_field(body, "items.0.n=a").is_ok());
        assert_eq!(json_field(body, "db.lag=4").unwrap_err(), "db.lag is 3, expected 4");
        assert_eq!(json_field(body, "off").unwrap_err(), "off is false");
        assert_eq!(json_field(body, "db.nope").unwrap_err(), "the JSON body has no field db.nope");
        assert!(json_field("<html>", "status").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB");
        assert_eq!(human_bytes(3 << 29), "1.5 GiB");
    }

    #[test]
    fn disk_space_of_this_directory() {
        let (free, inodes) = free_space(Path::new(".")).unwrap();
        assert!(free > 0 && inodes > 0);
        assert!(free_space(Path::new("/nonexistent/dir")).is_err());
    }
}
