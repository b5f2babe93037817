//! `runner config`: the effective settings. Secrets are shown by where they come from and
//! whether they are set, never by value (the config cannot hold a value in the first place).

use anyhow::Result;
use serde_json::json;

use super::Context;
use crate::exit::Outcome;
use crate::output;

pub(super) fn run(ctx: &Context) -> Result<Outcome> {
    let settings = ctx.settings()?;
    let c = &settings.config;
    let secrets = [
        c.server.token(),
        c.server.hmac_secret(),
        c.slack.signing_secret(),
        c.slack.alert_webhook(),
        c.health.ping_url(),
    ];
    let source = settings.source.as_ref().map(|p| p.display().to_string());
    let problems = crate::operator::git_problems(&settings);
    if ctx.global.json {
        let secrets: serde_json::Map<_, _> = secrets.iter().map(|s| (s.key.to_string(), json!(s.status()))).collect();
        output::json(&json!({
            "source": source,
            "home": settings.home,
            "default_env": settings.default_env,
            "config": c,
            "secrets": secrets,
            "problems": problems,
        }))?;
        return Ok(Outcome::Yes);
    }
    let mut text = format!("# source: {}\n", source.as_deref().unwrap_or("embedded defaults (no runner.toml found)"));
    text.push_str(&format!("# home: {}\n# default_env: {}\n", settings.home.display(), settings.default_env));
    for s in secrets {
        let st = s.status();
        let state = if st.set { "set" } else { "not set" };
        text.push_str(&format!("# secret {}: {} ({state})\n", s.key, st.source.as_deref().unwrap_or("not configured")));
    }
    for problem in &problems {
        text.push_str(&format!("# problem: {problem}\n"));
    }
    text.push('\n');
    text.push_str(&toml::to_string_pretty(c)?);
    output::print(&text)?;
    Ok(Outcome::Yes)
}
