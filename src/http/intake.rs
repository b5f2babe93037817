//! `POST /webhook` (queue a patch) and `GET /patches/{id}` (what became of it).
//!
//! A patch is checked whole before anything is written: credentials, content type, mode, JSON
//! shape, environment, id, then the patch itself (format and every path inside the fence). It
//! is answered 202 only after it, its directory and its audit line are durable (the last two
//! group-committed with concurrent requests, see `commit`). The same id with the same
//! bytes answers 200 with its state; with other bytes, 409. A signed request is accepted once:
//! a replay of its signature answers 200 with the patch it made (see `replay`).

use serde_json::{Value, json};

use crate::config::EnvConfig;
use crate::patch::{self, Patch, fence::Fence};

use crate::http::app::{App, Reply, internal};
use crate::http::auth::Proof;
use crate::http::replay::{Queued, Seen};
use crate::http::wire::{Request, Response};
use crate::http::{openapi, wait};
use crate::operator::kick::Why;
use crate::operator::{callback, fit};
use crate::sign::now_unix;
use crate::store::atomic::Staged;
use crate::store::events::Event;
use crate::store::mode;
use crate::store::queue::{self, State};

pub(crate) fn post(app: &App, req: &Request) -> Reply {
    let now = now_unix();
    let proof = app.auth.check(req, now)?;
    let signed = match &proof {
        Proof::Signed(signed) => Some(signed),
        _ => None,
    };
    // A replayed signature is answered with what it made the first time, whatever became of
    // that patch since, and queues nothing.
    if let Some(Seen { did: Queued { env, id }, .. }) = signed.and_then(|s| app.replays.seen(&s.key, now)) {
        let state = queue::find(&app.home, &env, &id).map_err(internal)?.map(|entry| entry.state);
        return Ok(Response::json(200, &receipt(app, &env, &id, state)));
    }
    let accepted = accept(app, req, signed.is_some()).inspect_err(|_| app.metrics.patch_rejected())?;
    if let Some(signed) = signed {
        let seen = Seen { expires: signed.expires, did: Queued { env: accepted.env.clone(), id: accepted.id.clone() } };
        // The patch is durable and queued either way; were its signature forgotten, a replay
        // would still find the same id (or the same body's id) and queue nothing.
        if let Err(e) = app.replays.remember(&signed.key, seen) {
            eprintln!("runner: error: {e:#} (signature of patch {} not remembered)", accepted.id);
        }
    }
    let status = if accepted.new { 202 } else { 200 };
    Ok(Response::json(status, &receipt(app, &accepted.env, &accepted.id, Some(accepted.state))))
}

/// A patch that is queued: just now (`new`), or by an earlier request with the same id and body.
struct Accepted {
    env: String,
    id: String,
    state: State,
    new: bool,
}

/// `signed`: the body is signed, so a patch that brings no id is named after the body's hash,
/// and the same body sent again (under another timestamp or delivery id) is the same patch.
fn accept(app: &App, req: &Request, signed: bool) -> Result<Accepted, Response> {
    wait::requested(app, req)?;
    let media = req.header("content-type").unwrap_or_default();
    if !media.split(';').next().unwrap_or_default().trim().eq_ignore_ascii_case("application/json") {
        return Err(Response::error(415, "send the patch envelope as Content-Type: application/json", None));
    }
    if mode::read(&app.home).map_err(internal)? == mode::Mode::Lockdown {
        return Err(Response::error(503, "runner is in lockdown and refuses new patches", None)
            .with_header("Retry-After", "300"));
    }
    let mut envelope: Value = serde_json::from_slice(&req.body)
        .map_err(|e| Response::error(400, format!("the body is not valid JSON: {e}"), None))?;
    let Some(fields) = envelope.as_object() else {
        return Err(unprocessable("the body must be a JSON object: the patch envelope", None));
    };
    let env = match fields.get("env") {
        None | Some(Value::Null) => app.settings.default_env.clone(),
        Some(Value::String(name)) if app.settings.config.env.contains_key(name) => name.clone(),
        Some(other) => {
            let known: Vec<_> = app.settings.config.env.keys().map(String::as_str).collect();
            let msg = format!("unknown environment {other}: this runner has {}", known.join(", "));
            return Err(unprocessable(&msg, Some("env")));
        }
    };
    known_fields(fields)?;
    let bad_id = || {
        let msg = "id must be 1-128 letters, digits, `.`, `_` or `-`, not starting with `.` or `-` \
                   (or a whole number of at least 0)";
        unprocessable(msg, Some("id"))
    };
    // Ids sometimes arrive as numbers (7, or 7.0): stored as text, so every reader agrees on "7".
    // Only whole numbers: `-1` or `1e300` would make a file name that is not an id.
    let (given_id, numbered) = match fields.get("id") {
        None | Some(Value::Null) => (None, false),
        Some(Value::String(id)) if queue::valid_id(id) => (Some(id.clone()), false),
        Some(Value::Number(n)) => match whole(n) {
            Some(n) => (Some(n.to_string()), true),
            None => return Err(bad_id()),
        },
        Some(_) => return Err(bad_id()),
    };
    let field = if fields.contains_key("operations") { "operations" } else { "patch" };
    let (_, env_cfg) = app.settings.env(Some(&env)).map_err(internal)?;
    let patch = check_patch(env_cfg, &req.body, field)?;
    // Legacy shapes carry their id elsewhere (`blockId`). A patch with no id gets one, written
    // into the stored copy so every reader agrees on it.
    let (id, bytes) = match given_id.or(patch.meta.id.filter(|id| queue::valid_id(id))) {
        Some(id) if !numbered => (id, req.body.clone()),
        found => {
            let id = found.unwrap_or_else(|| if signed { body_id(&req.body) } else { new_id() });
            envelope["id"] = Value::String(id.clone());
            (id, serde_json::to_vec(&envelope).map_err(|e| internal(e.into()))?)
        }
    };

    // A panic elsewhere cannot leave a half-done intake behind, so a poisoned stripe is usable.
    let _one_at_a_time = app.id_stripe(&env, &id).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(entry) = queue::find(&app.home, &env, &id).map_err(internal)? {
        let stored = std::fs::read(&entry.path).map_err(|e| internal(e.into()))?;
        if stored != bytes {
            let msg = format!("patch {id} was already received with a different body: use a new id");
            return Err(Response::error(409, msg, Some("id")));
        }
        if entry.state == State::Pending {
            kick(app, &env, &id);
        }
        return Ok(Accepted { env, id, state: entry.state, new: false });
    }
    queue::stage(&app.home, &env, &id, State::Pending, &bytes).and_then(Staged::install).map_err(internal)?;
    // The two flushes this answer waits for, shared with concurrent requests and run side by side.
    let synced = app.dir_syncs.submit(app.home.queue_dir(&env, State::Pending));
    let audited = app.audit.submit(Event::new("webhook", "patch.received").env(&env).id(&id));
    synced.wait().map_err(internal)?;
    // The patch is durable and queued either way; a failed audit append is logged and must not
    // make the sender retry it.
    if let Err(e) = audited.wait() {
        eprintln!("runner: error: {e:#} (audit event for patch {id} not written)");
    }
    app.metrics.patch_accepted();
    kick(app, &env, &id);
    if waits_for_approval(app, &env) {
        announce_waiting(app, &env, &id, patch.meta.description.clone());
    }
    Ok(Accepted { env, id, state: State::Pending, new: true })
}

/// `GET /patches/{id}[?env=E]`: its state, its result record and its summary, if they exist yet.
pub(crate) fn get(app: &App, req: &Request) -> Reply {
    app.auth.check(req, now_unix())?;
    let id = req.path.trim_start_matches("/patches/");
    if !queue::valid_id(id) {
        return Err(Response::error(404, "no such patch: ids are 1-128 letters, digits, `.`, `_` or `-`", None));
    }
    let envs: Vec<&str> = match req.query_param("env") {
        Some(env) => vec![env],
        // The default environment first, then the others.
        None => std::iter::once(app.settings.default_env.as_str())
            .chain(app.settings.config.env.keys().map(String::as_str).filter(|e| *e != app.settings.default_env))
            .collect(),
    };
    for env in envs {
        if !app.settings.config.env.contains_key(env) {
            return Err(unprocessable(&format!("unknown environment {env:?}"), Some("env")));
        }
        let Some(entry) = queue::find(&app.home, env, id).map_err(internal)? else { continue };
        let full = match req.query_param("full") {
            None | Some("0") => false,
            Some("1") => true,
            Some(_) => return Err(Response::error(400, "full must be 0 or 1", Some("full"))),
        };
        return patch_answer(app, env, id, entry.state, full);
    }
    Err(Response::error(404, format!("no patch {id} has been received"), None))
}

/// 200 with a patch's record and the URL to poll; cut to fit a model's answer unless `full`.
pub(crate) fn patch_answer(app: &App, env: &str, id: &str, state: State, full: bool) -> Reply {
    let mut body = callback::record(&app.home, env, id, state).map_err(internal)?;
    body["url"] = patch_url(app, id).into();
    if !full {
        fit::fit(&mut body, &format!("{}?full=1", patch_url(app, id)));
    }
    Ok(Response::json(200, &body))
}

/// Whether a patch just queued in `env` waits for an operator (not for cron or a pause).
fn waits_for_approval(app: &App, env: &str) -> bool {
    let require = app.settings.config.env.get(env).is_some_and(|e| e.require_approval);
    match mode::read(&app.home) {
        Ok(mode::Mode::Manual) => true,
        Ok(mode::Mode::Auto) => require,
        _ => false,
    }
}

/// Tell Slack a patch waits for approval, off the request's thread (Slack may be slow).
fn announce_waiting(app: &App, env: &str, id: &str, description: Option<String>) {
    let (settings, home, env, owned) = (app.settings.clone(), app.home.clone(), env.to_string(), id.to_string());
    let posted = std::thread::Builder::new().name("slack-waiting".into()).spawn(move || {
        if let Err(e) = crate::slack::outcome::announce_waiting(&settings, &home, &env, &owned, description.as_deref())
        {
            eprintln!("runner: error: {e:#} (Slack was not told that patch {owned} waits for approval)");
        }
    });
    if let Err(e) = posted {
        eprintln!("runner: error: could not start a thread to tell Slack about patch {id}: {e}");
    }
}

/// Start (or ask for) an apply run now that the patch is durable. The patch is queued whatever
/// happens here, and cron sweeps it if no run starts, so a failure is logged, not answered.
fn kick(app: &App, env: &str, id: &str) {
    if let Err(e) = app.kicker.kick(env, Why::Arrival) {
        eprintln!("runner: error: {e:#} (patch {id} waits for the next apply-patch run)");
    }
}

/// A whole number id from 0 to [`openapi::MAX_INT_ID`], however JSON spelled it (7 or 7.0).
fn whole(n: &serde_json::Number) -> Option<u64> {
    let max = openapi::MAX_INT_ID;
    n.as_u64()
        .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= max as f64).map(|f| f as u64))
        .filter(|n| *n <= max)
}

/// The fields of the envelope the OpenAPI document describes: any other is a typo or a field
/// the sender believes does something, so it is refused rather than ignored. The seed system's
/// legacy shapes (`blockId`, `mutations`, `target_file`, `patch` as an object) keep their own.
fn known_fields(fields: &serde_json::Map<String, Value>) -> Result<(), Response> {
    const KNOWN: [&str; 9] =
        ["id", "env", "description", "author", "validate", "callback_url", "patch", "operations", "role"];
    let legacy = ["blockId", "mutations", "target_file"].iter().any(|k| fields.contains_key(*k))
        || fields.get("patch").is_some_and(Value::is_object);
    match fields.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        Some(key) if !legacy => {
            let msg = format!(
                "unknown field {key:?}: the envelope has id, env, description, author, validate, callback_url and patch or operations"
            );
            Err(unprocessable(&msg, Some(key)))
        }
        _ => Ok(()),
    }
}

/// The patch itself: it parses, and every path it names is inside the environment's fence.
/// Whether its hunks match is apply-patch's question: the tree may change before it runs.
fn check_patch(env: &EnvConfig, bytes: &[u8], field: &str) -> Result<Patch, Response> {
    let refuse = |e: anyhow::Error| unprocessable(&format!("{e:#}"), Some(field));
    let patch = patch::parse(bytes, None, None).map_err(refuse)?;
    let fence = Fence::new(&env.tree, &env.allowed_paths).map_err(internal)?;
    for path in patch.paths() {
        fence.check(&path).map_err(refuse)?;
    }
    if let Some(url) = &patch.meta.callback_url {
        callback::check(url, &env.callback_hosts)
            .map_err(|e| unprocessable(&format!("{e:#}"), Some("callback_url")))?;
    }
    Ok(patch)
}

/// `state` is `None` for a patch that is no longer in any queue directory.
fn receipt(app: &App, env: &str, id: &str, state: Option<State>) -> Value {
    json!({ "id": id, "env": env, "state": state, "url": patch_url(app, id) })
}

/// Where the sender polls for the patch's outcome.
fn patch_url(app: &App, id: &str) -> String {
    format!("{}/patches/{id}", app.base_url)
}

pub(crate) fn unprocessable(message: &str, field: Option<&str>) -> Response {
    Response::error(422, message, field)
}

/// `sha256-<32 hex>`: the id of an id-less signed body, the same each time it is sent.
fn body_id(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(body);
    format!("sha256-{}", crate::sign::hex(&hash[..16]))
}

/// `20261124T013000-1a2b3c4d`: sortable by arrival, unique enough across restarts.
fn new_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    format!("{}-{:08x}", chrono::Utc::now().format("%Y%m%dT%H%M%S"), h.finish() as u32)
}
