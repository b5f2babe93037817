//! `POST /webhook?wait=N` (or `Prefer: wait=N`, RFC 7240): hold the answer until the patch
//! settles or N seconds pass, so a model reads its verdict in the same call.
//!
//! The hold happens after the request's handling permit is given back (see `server`), so a
//! waiting client holds only its own connection thread. It sleeps on the environment's progress
//! condition (woken when a child apply run exits or a patch lands in applied/ or failed/, see
//! `operator::kick`) and looks at the queue between sleeps with a growing backoff, the safety
//! net should the watch be unavailable; it never spins.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::http::app::App;
use crate::http::wire::{Request, Response};
use crate::http::{intake, signal};
use crate::store::fs::sync_dir;
use crate::store::mode::{self, Mode};
use crate::store::queue::{self, State};

/// First and longest sleep between looks at the queue. A look is a few stats; a patch settled
/// early in a long run is seen within the longest sleep, not when the run ends.
const FIRST_LOOK: Duration = Duration::from_millis(5);
const LONGEST_LOOK: Duration = Duration::from_millis(25);

/// How long the poster asks the answer to be held. `?wait=N` outside 0..=max_wait is a 400 (the
/// query is the contract); `Prefer: wait=N` is a preference, so it is capped at max_wait.
pub(crate) fn requested(app: &App, req: &Request) -> Result<Option<Duration>, Response> {
    let max = app.settings.config.server.max_wait.std();
    if let Some(text) = req.query_param("wait") {
        return match text.parse::<u64>() {
            Ok(n) if Duration::from_secs(n) <= max => Ok(Some(Duration::from_secs(n)).filter(|d| !d.is_zero())),
            _ => Err(Response::error(
                400,
                format!("wait must be a whole number of seconds from 0 to {} (server.max_wait)", max.as_secs()),
                Some("wait"),
            )),
        };
    }
    let preferred = req.header("prefer").into_iter().flat_map(|h| h.split(',')).find_map(|pref| {
        let (name, value) = pref.split(';').next()?.split_once('=')?;
        (name.trim().eq_ignore_ascii_case("wait")).then(|| value.trim().trim_matches('"').parse::<u64>().ok())?
    });
    Ok(preferred.map(|n| Duration::from_secs(n).min(max)).filter(|d| !d.is_zero()))
}

/// Hold a webhook receipt (`res`) until its patch settles; answer its record with 200 then, or
/// the receipt as it was when the wait runs out or nothing will apply the patch meanwhile.
pub(crate) fn hold(app: &App, req: &Request, res: Response) -> Response {
    if req.method != "POST" || req.path != "/webhook" || !matches!(res.status, 200 | 202) {
        return res;
    }
    let Ok(Some(wait)) = requested(app, req) else { return res };
    let Ok(receipt) = serde_json::from_slice::<Value>(&res.body) else { return res };
    let (Some(env), Some(id)) = (receipt["env"].as_str(), receipt["id"].as_str()) else { return res };
    let deadline = Instant::now() + wait;
    let mut pause = FIRST_LOOK;
    let held = loop {
        let seen = app.kicker.progress(env).unwrap_or(0);
        match queue::find(&app.home, env, id) {
            Ok(Some(entry)) if matches!(entry.state, State::Applied | State::Failed) => {
                // A run syncs the queue directories just after its moves, and we may have looked
                // in between: the verdict is answered only once the move is durable.
                if settled_durably(app, env, entry.state).is_err() {
                    return res;
                }
                break intake::patch_answer(app, env, id, entry.state, false).unwrap_or_else(|e| e);
            }
            Ok(Some(entry)) if !will_apply(app, env, entry.state) => return res,
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return res,
        }
        let left = deadline.saturating_duration_since(Instant::now());
        // Stopping: answer what is known now rather than hold up the shutdown.
        if left.is_zero() || signal::stopping() {
            return res;
        }
        app.kicker.wait_for_progress(env, seen, pause.min(left));
        pause = (pause * 2).min(LONGEST_LOOK);
    };
    held.with_header("Preference-Applied", format!("wait={}", wait.as_secs()))
}

/// Sync the directories of a patch's last move (applying/ to `state`), as the run does. An
/// environment without applying/ has no move to finish there.
fn settled_durably(app: &App, env: &str, state: State) -> anyhow::Result<()> {
    sync_dir(&app.home.queue_dir(env, state))?;
    let applying = app.home.queue_dir(env, State::Applying);
    if applying.is_dir() { sync_dir(&applying) } else { Ok(()) }
}

/// Whether anything will apply a patch in `state` without an operator: otherwise the poster is
/// told at once (202) instead of being held for nothing.
fn will_apply(app: &App, env: &str, state: State) -> bool {
    let require_approval = app.settings.config.env.get(env).is_some_and(|e| e.require_approval);
    match (mode::read(&app.home).unwrap_or(Mode::Paused), state) {
        (_, State::Applying) => true,
        (Mode::Auto, State::Approved) => true,
        (Mode::Auto, State::Pending) => !require_approval,
        (Mode::Manual, State::Approved) => true,
        _ => false,
    }
}
