//! `runner init [DIR]`: write a commented runner.toml (never over an existing one) and create
//! the on-disk layout it names.

use anyhow::{Context as _, Result, bail};

use super::Context;
use crate::cli::InitArgs;
use crate::config::{DEFAULT_FILE, Settings};
use crate::exit::Outcome;
use crate::store::{Home, atomic, events};

const TEMPLATE: &str = include_str!("init.toml");

pub(super) fn run(ctx: &Context, args: InitArgs) -> Result<Outcome> {
    let cwd = std::env::current_dir().context("could not read the current directory")?;
    let dir = crate::config::normalize(&cwd.join(&args.dir));
    crate::store::fs::ensure_dir(&dir)?;
    let path = dir.join(DEFAULT_FILE);
    if path.exists() {
        bail!("{} already exists; edit it, or remove it to start over", path.display());
    }
    let mut settings = Settings::from_toml(TEMPLATE, Some(&path))?;
    if let Some(home) = &ctx.global.home {
        settings.home = crate::config::normalize(&cwd.join(home));
    }
    atomic::create_new(&path, TEMPLATE.as_bytes())?;
    let home = Home::new(&settings.home);
    home.create_layout(settings.config.env.keys().map(String::as_str))?;
    events::append(&home, &events::Event::new(events::cli_actor(), "init").with("config", path.display().to_string()))?;
    if ctx.global.json {
        crate::output::json(&serde_json::json!({ "config": path, "home": home.root() }))?;
    } else {
        ctx.say(format!("wrote {}\ncreated {}", path.display(), home.root().display()))?;
    }
    Ok(Outcome::Yes)
}
