//! `runner health-check`: probe the configured checks once, remember the verdicts in
//! state/health.json, alert on changes with `--alert`, exit 1 when any check is unhealthy.

use std::fmt::Write;
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use super::Context;
use crate::cli::HealthCheckArgs;
use crate::config::Settings;
use crate::exit::Outcome;
use crate::health::check::{self, CheckReport, HealthFile};
use crate::health::ping::Ping;
use crate::health::probe::Env;
use crate::health::state::{self, Time};
use crate::notify::{self, Delivery};
use crate::output;
use crate::store::events::{self, Event};
use crate::store::{Home, atomic, heartbeat, lock};

#[derive(Debug, Serialize)]
struct Report {
    healthy: bool,
    checks: Vec<CheckReport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    alerts: Vec<AlertReport>,
    /// What keeps a `git = "commit"` environment from committing (its patches would be refused).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    problems: Vec<String>,
}

#[derive(Debug, Serialize)]
struct AlertReport {
    check: String,
    #[serde(flatten)]
    delivery: Delivery,
}

pub(super) fn run(ctx: &Context, args: HealthCheckArgs) -> Result<Outcome> {
    let started = Instant::now();
    let (settings, home) = ctx.settings_and_home()?;
    let _guard = lock::acquire(&home, "health-check", None, ctx.global.wait)?;
    let mut ping = Ping::new(&settings);
    ping.send("start");
    let result = cycle(&settings, &home, &args);
    let report = match result {
        Ok(report) => report,
        Err(e) => {
            ping.send(&crate::exit::code_for(&e).to_string());
            return Err(e);
        }
    };
    heartbeat::beat(&home, "health-check", started)?;
    let outcome = Outcome::from_bool(report.healthy);
    ping.send(if report.healthy { "0" } else { "1" });
    if ctx.global.json {
        output::json(&report)?;
    } else if !ctx.global.quiet {
        output::print(&render(&report))?;
    }
    if let Some(problem) = ping.take_problem() {
        return Err(problem.context("the checks ran and their alerts went out, but the dead-man ping is misconfigured"));
    }
    Ok(outcome)
}

fn cycle(settings: &Settings, home: &Home, args: &HealthCheckArgs) -> Result<Report> {
    let checks = crate::health::select(&settings.config.check, &args.names, |c| c.name.as_str(), "check")?;
    for c in &checks {
        if let Some(env) = &c.queue {
            settings.env(Some(env)).map_err(|e| e.context(format!("check {:?}: queue = {env:?}", c.name)))?;
        }
    }
    let verdicts = check::probe_all(&checks, Env { settings, home });
    let mut file: HealthFile = state::load(&home.health_file())?;
    check::seed(&mut file, &checks, || {
        events::read_all(home).map(|log| log.events).unwrap_or_else(|e| {
            crate::health::warn(&format!("{e:#}; checks without state start as healthy"));
            Vec::new()
        })
    });
    let now = Time::now();
    let reports: Vec<CheckReport> =
        checks.iter().zip(verdicts).map(|(c, v)| check::record(&mut file, c, v, now)).collect();
    check::prune(&mut file, &settings.config.check);
    atomic::write_json(&home.health_file(), &file)?;
    let changed: Vec<&CheckReport> = reports.iter().filter(|r| r.changed.is_some()).collect();
    for r in &changed {
        let action = if r.healthy { "check.up" } else { "check.down" };
        events::append(
            home,
            &Event::new("health-check", action).with("check", r.name.as_str()).with("message", r.message.as_str()),
        )?;
    }
    let alerts = if args.alert { send_alerts(settings, home, &changed)? } else { Vec::new() };
    // Asked for named checks, the operator wants those alone.
    let problems = if args.names.is_empty() { crate::operator::git_problems(settings) } else { Vec::new() };
    let healthy = reports.iter().all(|r| r.healthy) && problems.is_empty();
    Ok(Report { healthy, checks: reports, alerts, problems })
}

/// One alert per changed check, all posted at once, each on its own thread: the run waits for
/// Slack at most one `slack.alert_timeout` however many checks changed.
fn send_alerts(settings: &Settings, home: &Home, changed: &[&CheckReport]) -> Result<Vec<AlertReport>> {
    std::thread::scope(|s| {
        let sending: Vec<_> = changed
            .iter()
            .map(|r| s.spawn(move || notify::send(settings, home, "health-check", &check::alert_text(r))))
            .collect();
        changed
            .iter()
            .zip(sending)
            .map(|(r, handle)| {
                let delivery =
                    handle.join().map_err(|_| anyhow::anyhow!("sending the alert for {} panicked", r.name))??;
                Ok(AlertReport { check: r.name.clone(), delivery })
            })
            .collect()
    })
}

fn render(report: &Report) -> String {
    let problems: String = report.problems.iter().map(|p| format!("problem: {p}\n")).collect();
    if report.checks.is_empty() {
        return problems + "no checks configured: add [[check]] tables to runner.toml\n";
    }
    let width = report.checks.iter().map(|c| c.name.len()).max().unwrap_or(0).max(5);
    let mut out = format!("{:<width$}  {:<9}  {:<9}  {:>6}  MESSAGE\n", "CHECK", "KIND", "STATE", "TIME");
    for c in &report.checks {
        let state = match (c.healthy, c.probe_ok) {
            (true, true) => "healthy".to_string(),
            (true, false) => format!("failing {}", c.consecutive_failures),
            (false, _) => "UNHEALTHY".to_string(),
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:<9}  {:<9}  {:>6}  {}",
            c.name,
            c.kind,
            state,
            format!("{}ms", c.duration_ms),
            c.message
        );
    }
    for a in &report.alerts {
        let _ = match &a.delivery {
            Delivery::Posted => writeln!(out, "alert for {} posted to Slack", a.check),
            Delivery::Logged(why) => writeln!(out, "alert for {} written to alerts.log ({why})", a.check),
        };
    }
    out + &problems
}
