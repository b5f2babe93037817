//! The operator's dashboard under `/dashboard` (server-rendered HTML, no script, readable on a
//! phone), plus `GET /status` (JSON) and `GET /metrics`. Who may see what:
//! - a session cookie (sign-in with the token, or a signed link) may read and act;
//! - the webhook's credentials in a header, or `server.public_status`, may only read;
//! - anyone else gets the sign-in page.

mod actions;
mod charts;
mod html;
mod overview;
mod patches;
mod signin;

use crate::http::app::{App, Reply, internal};
use crate::http::wire::{Request, Response};
use crate::operator::session::{self, Session};
use crate::sign::now_unix;
use crate::slack::form;
use crate::status;
use html::Viewer;

pub(crate) fn status_json(app: &App) -> Reply {
    let status = status::collect(&app.settings, None).map_err(internal)?;
    Ok(Response::json(200, &serde_json::to_value(status).map_err(|e| internal(e.into()))?))
}

pub(crate) fn metrics(app: &App) -> Reply {
    let status = status::collect(&app.settings, None).map_err(internal)?;
    Ok(Response::new(200, "text/plain; version=0.0.4; charset=utf-8", app.metrics.render(&status)))
}

/// Every request whose path is `/dashboard` or under it.
pub(crate) fn handle(app: &App, req: &Request) -> Reply {
    let session = session_of(app, req)?;
    // HEAD is answered as GET; the server drops the body.
    let method = if req.method == "HEAD" { "GET" } else { req.method.as_str() };
    match (method, req.path.as_str()) {
        ("GET", "/dashboard/sign-in") => Ok(signin::page(200, None)),
        ("POST", "/dashboard/sign-in") => signin::post(app, req),
        ("GET", session::LINK_PATH) => signin::link(app, req),
        ("POST", _) => actions::post(app, req, session),
        ("GET", path) => {
            let viewer = viewer(app, req, session)?;
            let query = form::parse(&req.query);
            let param =
                |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty());
            match path.trim_end_matches('/') {
                "/dashboard" => overview::page(app, &viewer),
                "/dashboard/patches" => patches::list(app, &viewer, &query),
                p => match p.strip_prefix("/dashboard/patches/").filter(|id| !id.contains('/')) {
                    Some(id) => {
                        let done = param("done").and_then(done_message).map(|m| ("ok", m));
                        patches::detail(app, &viewer, id, param("env"), done)
                    }
                    None => Err(Response::error(404, format!("no route {p}"), None)),
                },
            }
        }
        (method, path) => Err(Response::error(405, format!("{method} is not allowed on {path}"), None)
            .with_header("Allow", "GET, HEAD, POST")),
    }
}

/// What a finished action says on the page it leads back to.
fn done_message(action: &str) -> Option<&'static str> {
    match action {
        "approve" => Some("Approved: an apply-patch run takes it from the approved queue."),
        "retry" => Some("Queued again as approved: an apply-patch run takes it."),
        "revert" => Some("Reverted: its files were put back as they were before it."),
        _ => None,
    }
}

/// Whether the request carries a live session (so it spends the rate limit's authenticated
/// bucket, not the one anonymous requests share).
pub(crate) fn signed_in(app: &App, req: &Request) -> bool {
    session_of(app, req).is_ok_and(|s| s.is_some())
}

/// The session the request's cookie proves, if any (none once the key is deleted).
fn session_of(app: &App, req: &Request) -> Result<Option<Session>, Response> {
    let Some(cookie) = req.header("cookie").and_then(session::cookie_value) else { return Ok(None) };
    let key = session::key(&app.home).map_err(internal)?;
    Ok(key.and_then(|k| session::verify(&k, cookie, now_unix())))
}

/// Who may read: a session, else the webhook's credentials or `public_status` (read-only);
/// anyone else is answered the sign-in page.
fn viewer(app: &App, req: &Request, session: Option<Session>) -> Result<Viewer, Response> {
    if let Some(s) = session {
        return Ok(Viewer::Session(s));
    }
    if app.settings.config.server.public_status || app.auth.check(req, now_unix()).is_ok() {
        return Ok(Viewer::ReadOnly);
    }
    Err(signin::page(401, None))
}
