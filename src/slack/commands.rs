//! The slash commands: one table, each entry calling the same library code as the CLI.
//! Commands that change anything are limited to `slack.admins` (when set) and audited in
//! events.jsonl with the Slack user as `slack:<user id>`.

use std::fmt::Write;

use anyhow::{Result, bail};
use serde_json::json;

use crate::config::Settings;
use crate::operator::kick::{Kicker, Why};
use crate::slack::{Answer, escape};
use crate::status::{self, named_entries, recent};
use crate::store::events::{self, Event};
use crate::store::mode::{self, Mode};
use crate::store::results;
use crate::store::{Home, atomic, queue};
use crate::time::age;
use crate::time::rfc3339;
use crate::{operator, slack};

/// Characters of a failed patch's reason /summary-logs shows.
const REASON_SHOWN: usize = 600;

/// How long a link from `/dashboard` opens the dashboard.
const LINK_TTL_S: u64 = 15 * 60;

/// What a command may use: the listener's settings and home, the address clients reach it at
/// (for links), and who asked.
pub(crate) struct Ctx<'a> {
    pub settings: &'a Settings,
    pub home: &'a Home,
    pub base_url: &'a str,
    /// `slack:<user id>`, as the audit log names the caller.
    pub actor: String,
    user: &'a str,
    /// Starts an apply run for patches a command approves; `None`: cron takes them.
    kicker: Option<&'a Kicker>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        settings: &'a Settings,
        home: &'a Home,
        base_url: &'a str,
        user: &'a str,
        kicker: Option<&'a Kicker>,
    ) -> Ctx<'a> {
        Ctx { settings, home, base_url, actor: format!("slack:{user}"), user, kicker }
    }
}

pub(crate) struct Command {
    pub name: &'static str,
    pub usage: &'static str,
    pub help: &'static str,
    /// Changes state: admins only, audited, answered in the channel.
    pub changes: bool,
    pub run: fn(&Ctx, &str) -> Result<String>,
}

#[rustfmt::skip]
pub(crate) const COMMANDS: &[Command] = &[
    Command { name: "/status-runner", usage: "", help: "mode, queues, last runs", changes: false, run: status_runner },
    Command { name: "/patch-status", usage: "", help: "waiting patches per environment", changes: false, run: queues },
    Command { name: "/status-queue", usage: "", help: "same as /patch-status", changes: false, run: queues },
    Command { name: "/patch-preview", usage: "[id|next] [env]", help: "the change a patch would make", changes: false, run: preview },
    Command { name: "/patch-approve", usage: "<id|next|all> [env]", help: "approve pending patches", changes: true, run: approve },
    Command { name: "/patch-revert", usage: "<id|last> [env]", help: "restore what a patch changed", changes: true, run: revert },
    Command { name: "/again", usage: "[id] [env]", help: "retry a failed patch (default: the newest)", changes: true, run: again },
    Command { name: "/cursor-mode", usage: "[auto|manual|paused|lockdown]", help: "show or set the mode", changes: true, run: cursor_mode },
    Command { name: "/toggle-runner", usage: "", help: "pause, or resume (auto)", changes: true, run: toggle },
    Command { name: "/runner-lock", usage: "", help: "lockdown: apply nothing, refuse new patches", changes: true, run: |c, _| set_mode(c, Mode::Lockdown) },
    Command { name: "/proceed", usage: "", help: "resume: mode auto", changes: true, run: |c, _| set_mode(c, Mode::Auto) },
    Command { name: "/interrupt", usage: "", help: "pause: apply nothing, keep accepting", changes: true, run: |c, _| set_mode(c, Mode::Paused) },
    Command { name: "/kill", usage: "confirm", help: "emergency stop (lockdown)", changes: true, run: kill },
    Command { name: "/restart-runner", usage: "<component>", help: "ask the watchdog to restart a component", changes: true, run: restart },
    Command { name: "/watchdog-ping", usage: "", help: "components as the watchdog last saw them", changes: false, run: daemons },
    Command { name: "/daemon-status", usage: "", help: "same as /watchdog-ping", changes: false, run: daemons },
    Command { name: "/summary-logs", usage: "[n]", help: "the n newest patch summaries (default 3)", changes: false, run: summaries },
    Command { name: "/dashboard", usage: "", help: "a link that opens the dashboard for 15 minutes (to you only)", changes: false, run: dashboard_link },
    Command { name: "/help", usage: "", help: "this list", changes: false, run: |_, _| Ok(help()) },
];

/// Run `command` for the caller; every outcome is an answer (refusals included).
pub(crate) fn run(ctx: &Ctx, command: &str, text: &str) -> Answer {
    // Everything answered is escaped here, once: patch text, file names, the user's own words.
    let Some(cmd) = COMMANDS.iter().find(|c| c.name == command) else {
        return Answer { in_channel: false, text: escape(&format!("unknown command `{command}`\n{}", help())) };
    };
    let admins = &ctx.settings.config.slack.admins;
    if cmd.changes && !admins.is_empty() && !admins.iter().any(|a| a == ctx.user) {
        audit(ctx, cmd, text, Err("not an admin"));
        return Answer {
            in_channel: false,
            text: escape(&format!("`{command}` changes runner: only slack.admins may use it")),
        };
    }
    let result = (cmd.run)(ctx, text);
    if cmd.changes {
        audit(ctx, cmd, text, result.as_ref().map(|_| ()).map_err(|_| "failed"));
    }
    match result {
        Ok(text) => Answer { in_channel: cmd.changes, text: escape(&text) },
        Err(e) => Answer { in_channel: false, text: escape(&format!(":warning: {command} failed: {e:#}")) },
    }
}

fn audit(ctx: &Ctx, cmd: &Command, text: &str, outcome: Result<(), &str>) {
    let event = Event::new(&ctx.actor, "slack.command").with("command", cmd.name).with("text", text);
    let event = match outcome {
        Ok(()) => event.with("ok", true),
        Err(why) => event.with("ok", false).with("error", why),
    };
    // The command's own effect is already durable; a full disk must not hide it from the user.
    let _ = events::append(ctx.home, &event);
}

fn help() -> String {
    let mut out = String::from("*runner commands*\n");
    for c in COMMANDS {
        let _ = writeln!(out, "`{} {}` {}", c.name, c.usage, c.help);
    }
    out
}

fn status_runner(ctx: &Ctx, _: &str) -> Result<String> {
    let report = status::collect(ctx.settings, None)?;
    Ok(format!("```{}```", status::render(&report)))
}

fn queues(ctx: &Ctx, _: &str) -> Result<String> {
    let mut out = String::new();
    for env in ctx.settings.config.env.keys() {
        for state in [queue::State::Pending, queue::State::Approved, queue::State::Failed] {
            let entries = queue::list(ctx.home, env, state)?;
            let ids: Vec<_> = entries.iter().take(10).map(|e| format!("`{}`", e.id)).collect();
            let more = entries.len().saturating_sub(10);
            let _ = write!(out, "*{env}* {state}: {}", entries.len());
            if !ids.is_empty() {
                let _ = write!(out, " — {}", ids.join(", "));
            }
            if more > 0 {
                let _ = write!(out, " and {more} more");
            }
            out.push('\n');
        }
    }
    let recent = recent(ctx.settings, ctx.home, 5)?;
    if !recent.is_empty() {
        out.push_str("*recent*\n");
        for r in recent {
            let outcome = r.outcome.as_deref().unwrap_or("-");
            let _ = writeln!(out, "`{}` {} {} {outcome} ({} ago)", r.id, r.env, r.state, age(r.age_s));
        }
    }
    Ok(out)
}

/// A signed dashboard link, answered to the caller only (the command does not change anything).
fn dashboard_link(ctx: &Ctx, _: &str) -> Result<String> {
    // The dashboard can approve and revert: a link is for those who may do that from Slack.
    let admins = &ctx.settings.config.slack.admins;
    if !admins.is_empty() && !admins.iter().any(|a| ctx.actor == format!("slack:{a}")) {
        bail!("the dashboard can change runner: only slack.admins get a link");
    }
    let url = operator::session::issue_link(ctx.home, ctx.base_url, LINK_TTL_S, &ctx.actor)?;
    Ok(format!("Open the dashboard: {url} (the link works for 15 minutes; do not share it)"))
}

/// `"<target> [env]"` → the target (or `default`) and the environment (or the default one).
fn target_and_env<'a>(ctx: &'a Ctx, text: &'a str, default: &'a str) -> Result<(&'a str, &'a str)> {
    let mut words = text.split_whitespace();
    let target = words.next().unwrap_or(default);
    let env = words.next().unwrap_or(&ctx.settings.default_env);
    if words.next().is_some() {
        bail!("too many words: give a patch and, optionally, an environment");
    }
    Ok((target, ctx.settings.env(Some(env))?.0))
}

fn preview(ctx: &Ctx, text: &str) -> Result<String> {
    let (target, env) = target_and_env(ctx, text, "next")?;
    let p = operator::preview(ctx.settings, ctx.home, env, target)?;
    let mut out = format!("*{}*", p.summary);
    if let Some(description) = &p.description {
        let _ = write!(out, "\n{description}");
    }
    if !p.diff.is_empty() {
        let _ = write!(out, "\n```{}```", slack::cut(&p.diff, slack::TEXT_LIMIT.saturating_sub(out.len() + 8)));
    }
    Ok(out)
}

fn approve(ctx: &Ctx, text: &str) -> Result<String> {
    if text.is_empty() {
        bail!("usage: /patch-approve <id|next|all> [env]");
    }
    let (target, env) = target_and_env(ctx, text, "next")?;
    let ids = operator::approve(ctx.settings, ctx.home, env, target, &ctx.actor)?;
    if !ids.is_empty() {
        apply_now(ctx, env);
    }
    Ok(match ids.as_slice() {
        [] => format!("nothing is pending in {env}"),
        ids => format!("approved in {env}: {}", ids.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")),
    })
}

fn revert(ctx: &Ctx, text: &str) -> Result<String> {
    if text.is_empty() {
        bail!("usage: /patch-revert <id|last> [env]");
    }
    let (target, env) = target_and_env(ctx, text, "last")?;
    let r = operator::revert(ctx.settings, ctx.home, env, target, false, &ctx.actor)?;
    if r.reverted {
        Ok(format!("reverted `{}` in {env}: restored {}", r.id, r.restored.join(", ")))
    } else {
        bail!(
            "`{}` was not reverted: {} changed since it was applied; use `runner revert --force {}` at the machine",
            r.id,
            r.changed_since.join(", "),
            r.id
        )
    }
}

fn again(ctx: &Ctx, text: &str) -> Result<String> {
    let (target, env) = target_and_env(ctx, text, "newest")?;
    let id = match target {
        "newest" => match queue::list(ctx.home, env, queue::State::Failed)?.pop() {
            Some(entry) => entry.id,
            None => bail!("no patch has failed in {env}"),
        },
        id => id.to_string(),
    };
    operator::retry(ctx.settings, ctx.home, env, &id, &ctx.actor)?;
    apply_now(ctx, env);
    Ok(format!("`{id}` queued again in {env} (approved)"))
}

/// An approved patch is applied now (as on arrival) where the mode lets approved patches
/// through; cron sweeps it otherwise.
fn apply_now(ctx: &Ctx, env: &str) {
    if let Some(kicker) = ctx.kicker
        && let Err(e) = kicker.kick(env, Why::Approval)
    {
        eprintln!("runner: error: {e:#} (approved patches in {env} wait for the next apply-patch run)");
    }
}

fn set_mode(ctx: &Ctx, new: Mode) -> Result<String> {
    let previous = mode::set(ctx.home, new, &ctx.actor)?;
    Ok(format!("mode: *{new}* (was {previous}), set by {}", ctx.actor))
}

fn cursor_mode(ctx: &Ctx, text: &str) -> Result<String> {
    if text.is_empty() {
        return Ok(format!("mode: *{}*", mode::read(ctx.home)?));
    }
    set_mode(ctx, text.parse()?)
}

fn toggle(ctx: &Ctx, _: &str) -> Result<String> {
    match mode::read(ctx.home)? {
        Mode::Lockdown => bail!("runner is in lockdown: lift it with `/cursor-mode auto`"),
        Mode::Paused => set_mode(ctx, Mode::Auto),
        Mode::Auto | Mode::Manual => set_mode(ctx, Mode::Paused),
    }
}

fn kill(ctx: &Ctx, text: &str) -> Result<String> {
    if text != "confirm" {
        bail!("this puts runner in lockdown (nothing applied, new patches refused): type `/kill confirm`");
    }
    set_mode(ctx, Mode::Lockdown)
}

fn restart(ctx: &Ctx, text: &str) -> Result<String> {
    let components: Vec<_> = ctx.settings.config.component.iter().map(|c| c.name.as_str()).collect();
    if !components.contains(&text) {
        let known = if components.is_empty() { "none".to_string() } else { components.join(", ") };
        bail!("no component named `{text}`: runner.toml configures {known}");
    }
    let request = json!({ "requested_by": ctx.actor, "time": rfc3339::format(&chrono::Utc::now()) });
    let path = ctx.home.restart_requests_dir().join(text);
    atomic::write(&path, format!("{request}\n").as_bytes())?;
    Ok(format!("restart of `{text}` requested: the next watchdog run will do it"))
}

fn daemons(ctx: &Ctx, _: &str) -> Result<String> {
    let path = ctx.home.watchdog_file();
    let state = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).ok(),
        Err(_) => return Ok("no watchdog run has written its state yet".into()),
    };
    let rows = named_entries(state.as_ref(), "components");
    if rows.is_empty() {
        return Ok("the watchdog's state names no components".into());
    }
    let mut out = String::from("*components*\n");
    for (name, fields) in rows {
        let _ = writeln!(out, "`{name}` {fields}");
    }
    Ok(out)
}

fn summaries(ctx: &Ctx, text: &str) -> Result<String> {
    let n: usize =
        if text.is_empty() { 3 } else { text.parse().map_err(|_| anyhow::anyhow!("usage: /summary-logs [n]"))? };
    let mut all = Vec::new();
    for env in ctx.settings.config.env.keys() {
        let Ok(dir) = std::fs::read_dir(ctx.home.summaries_dir(env)) else { continue };
        for entry in dir.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "md") {
                let modified = entry.metadata().and_then(|m| m.modified()).ok();
                all.push((modified, env.clone(), path));
            }
        }
    }
    all.sort_by_key(|b| std::cmp::Reverse(b.0));
    if all.is_empty() {
        return Ok("no summaries yet".into());
    }
    let mut out = String::new();
    for (_, env, path) in all.into_iter().take(n.clamp(1, 10)) {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        // The title and description: the list below them is in the result, the reason follows.
        let head: Vec<_> = text
            .lines()
            .take_while(|l| !l.starts_with("- ") && !l.starts_with("## "))
            .filter(|l| !l.is_empty())
            .take(4)
            .collect();
        let id = path.file_stem().unwrap_or_default().to_string_lossy();
        let _ = writeln!(out, "*{env}* `{id}`\n```{}```", head.join("\n"));
        // The reason sits below the head of a summary: a failed patch says why in full.
        if let Ok(Some(reason)) = results::read(ctx.home, &env, &id).map(|r| r.and_then(|r| r.reason)) {
            let shown = crate::operator::fit::clip(&reason, REASON_SHOWN, "the summary file").unwrap_or(reason);
            let _ = writeln!(out, "*reason*\n```{shown}```");
        }
    }
    Ok(out)
}
