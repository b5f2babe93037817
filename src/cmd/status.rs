//! `runner status`: mode, queues, oldest pending patch, last runs, and the audit log's lines that
//! are not events (read here, not in `status::collect`, so the listener's pages stay cheap).

use anyhow::Result;

use super::Context;
use crate::cli::StatusArgs;
use crate::exit::Outcome;
use crate::store::{Home, events};
use crate::{output, status};

pub(super) fn run(ctx: &Context, args: StatusArgs) -> Result<Outcome> {
    let settings = ctx.settings()?;
    let report = status::collect(&settings, args.env.env.as_deref())?;
    let unparsable = events::read_all(&Home::new(&settings.home))?.unparsable;
    if ctx.global.json {
        let mut json = serde_json::to_value(&report)?;
        json["unparsable_event_lines"] = serde_json::json!(unparsable);
        output::json(&json)?;
    } else if !ctx.global.quiet {
        let mut text = status::render(&report);
        if let Some(first) = unparsable.first() {
            text.push_str(&format!(
                "\naudit log: {} line(s) of events.jsonl are not events (first: line {first}); they are skipped\n",
                unparsable.len()
            ));
        }
        output::print(&text)?;
    }
    Ok(Outcome::Yes)
}
