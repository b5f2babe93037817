//! `retry <id>`: queue a failed patch again. An operator asking for it is an approval, so it goes
//! to approved/ and the next queue run takes it in manual mode too.

use anyhow::{Result, bail};

use super::Env;
use crate::config::Settings;
use crate::store::Home;
use crate::store::events::{self, Event};
use crate::store::queue::{self, State};

pub(crate) fn retry(settings: &Settings, home: &Home, env: &str, id: &str, actor: &str) -> Result<()> {
    let env = Env::open(settings, home, env)?;
    match queue::find(home, env.name, id)? {
        Some(e) if e.state == State::Failed => {
            queue::transition(home, env.name, &e, State::Approved)?;
            events::append(home, &Event::new(actor, "patch.retried").env(env.name).id(id))
        }
        Some(e) => bail!("patch {id} is {}; only a failed patch can be retried", e.state),
        None => bail!("no patch {id} in {}", env.name),
    }
}
