//! `runner watchdog`: one cycle over the configured components — probe, and restart the
//! unhealthy within their budget — under the `watchdog` lock, so overlapping cron runs cannot
//! both restart. State in state/watchdog.json; exit 1 when any component is left unhealthy.

use std::fmt::Write;
use std::time::Instant;

use anyhow::Result;

use super::Context;
use crate::cli::WatchdogArgs;
use crate::config::ComponentConfig;
use crate::exit::Outcome;
use crate::health::probe::Env;
use crate::health::state;
use crate::health::watchdog::{ComponentReport, Cycle, Journal, Request, WatchdogFile};
use crate::output;
use crate::store::events::{self, Event};
use crate::store::{Home, atomic, heartbeat, lock};

pub(super) fn run(ctx: &Context, args: WatchdogArgs) -> Result<Outcome> {
    let started = Instant::now();
    let (settings, home) = ctx.settings_and_home()?;
    let _guard = lock::acquire(&home, "watchdog", None, ctx.global.wait)?;
    let config = &settings.config;
    let components = crate::health::select(&config.component, &args.names, |c| c.name.as_str(), "component")?;
    let file: WatchdogFile = state::load(&home.watchdog_file())?;
    let journal = Journal::new(home.watchdog_file(), file, !args.dry_run);
    let cycle = Cycle { env: Env { settings: &settings, home: &home }, dry_run: args.dry_run, journal: &journal };
    // Each component on its own thread: one slow start does not delay the others' restarts.
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = components
            .iter()
            .map(|c| {
                let check = config.check.iter().find(|k| k.name == c.check).expect("validated in config");
                let previous = journal.get(&c.name);
                let request = Request::take(&home, &c.name);
                s.spawn(move || cycle.run(c, check, previous, request))
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect()
    });
    let mut file = journal.into_file();
    let mut reports = Vec::new();
    let mut first_error = None;
    for (component, result) in components.iter().zip(results) {
        let Ok((new_state, report, error)) = result else {
            first_error.get_or_insert(anyhow::anyhow!("the watchdog cycle of component {} panicked", component.name));
            continue;
        };
        // What was done must be remembered even when recording it failed.
        file.components.insert(component.name.clone(), new_state);
        reports.push(report);
        if let Some(e) = error {
            first_error.get_or_insert(e.context(format!("component {}", component.name)));
        }
    }
    if args.dry_run {
        return finish(ctx, &reports, first_error);
    }
    file.components.retain(|name, _| config.component.iter().any(|c| &c.name == name));
    atomic::write_json(&home.watchdog_file(), &file)?;
    if args.names.is_empty() {
        drop_stray_requests(&home, &config.component)?;
    }
    if first_error.is_none() {
        heartbeat::beat(&home, "watchdog", started)?;
    }
    finish(ctx, &reports, first_error)
}

fn finish(ctx: &Context, reports: &[ComponentReport], error: Option<anyhow::Error>) -> Result<Outcome> {
    if let Some(e) = error {
        return Err(e);
    }
    if ctx.global.json {
        output::json(&serde_json::json!({ "healthy": reports.iter().all(|r| r.healthy), "components": reports }))?;
    } else if !ctx.global.quiet {
        output::print(&render(reports))?;
    }
    Ok(Outcome::from_bool(reports.iter().all(|r| r.healthy)))
}

/// Restart requests for components runner.toml does not define would wait forever: drop them,
/// on the record.
fn drop_stray_requests(home: &Home, components: &[ComponentConfig]) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(home.restart_requests_dir()) else { return Ok(()) };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if components.iter().any(|c| c.name == name) || name.starts_with(atomic::TEMP_PREFIX) {
            continue;
        }
        events::append(
            home,
            &Event::new("watchdog", "component.restart-refused")
                .with("component", name.as_str())
                .with("reason", "no such component"),
        )?;
        atomic::remove(&entry.path())?;
    }
    Ok(())
}

fn render(reports: &[ComponentReport]) -> String {
    if reports.is_empty() {
        return "no components configured: add [[component]] tables to runner.toml\n".into();
    }
    let width = reports.iter().map(|r| r.name.len()).max().unwrap_or(0).max(9);
    let mut out = format!(
        "{:<width$}  {:<9}  {:<9}  {:<14}  {:>7}  {:>8}  MESSAGE\n",
        "COMPONENT", "HEALTH", "CIRCUIT", "ACTION", "PID", "RESTARTS"
    );
    for r in reports {
        let (action, circuit) = (r.action.as_str(), r.state.as_str());
        let pid = r.pid.map_or("-".to_string(), |p| p.to_string());
        let health = if r.healthy { "healthy" } else { "UNHEALTHY" };
        let _ = writeln!(
            out,
            "{:<width$}  {health:<9}  {circuit:<9}  {action:<14}  {pid:>7}  {:>8}  {}",
            r.name, r.restarts, r.message
        );
    }
    out
}
