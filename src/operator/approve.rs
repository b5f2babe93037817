//! `approve <id|next|all>`: move pending patches to approved/, where the next queue run takes
//! them whatever the mode (except paused and lockdown).

use anyhow::{Result, bail};

use super::Env;
use super::queue_run::waiting;
use crate::config::Settings;
use crate::store::Home;
use crate::store::events::{self, Event};
use crate::store::queue::{self, State};

/// Approve one patch by id, the oldest pending (`next`) or every pending one (`all`); returns
/// the ids approved (`all` with nothing pending approves nothing, which is not an error).
pub(crate) fn approve(settings: &Settings, home: &Home, env: &str, target: &str, actor: &str) -> Result<Vec<String>> {
    let env = Env::open(settings, home, env)?;
    let pending = waiting(&env, &[State::Pending])?;
    let chosen = match target {
        "all" => pending,
        "next" => match pending.into_iter().next() {
            Some(e) => vec![e],
            None => bail!("no patch is pending in {}", env.name),
        },
        id => match queue::find(home, env.name, id)? {
            Some(e) if e.state == State::Pending => vec![e],
            Some(e) => bail!("patch {id} is {}, not pending; only pending patches can be approved", e.state),
            None => bail!("no patch {id} in {}", env.name),
        },
    };
    let mut approved = Vec::new();
    for entry in chosen {
        queue::transition(home, env.name, &entry, State::Approved)?;
        events::append(home, &Event::new(actor, "patch.approved").env(env.name).id(&entry.id))?;
        approved.push(entry.id);
    }
    Ok(approved)
}
