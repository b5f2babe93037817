//! Getting in: the sign-in page where the operator pastes the token, the signed link
//! `runner dashboard-link` prints, and signing out. Each success sets the session cookie.

use super::html::{self, Viewer, esc, notice};
use crate::http::app::{App, Reply, internal};
use crate::http::wire::{Request, Response};
use crate::operator::session::{self, Session};
use crate::sign::now_unix;
use crate::slack::form;
use crate::store::events::{self, Event};

/// The sign-in page, with `message` (why the last attempt failed) on top.
pub(super) fn page(status: u16, message: Option<&str>) -> Response {
    let mut h = String::from("<h1>Sign in</h1>");
    if let Some(m) = message {
        h.push_str(&notice("bad", m));
    }
    h.push_str(
        "<form method=post action=/dashboard/sign-in class=actions>\
         <label>token <input type=password name=token autocomplete=current-password required autofocus></label>\
         <button class=primary>Sign in</button></form>\
         <p class=muted-text>Paste the token from <code>server.token_env</code> or <code>server.token_file</code>, \
         or open a link from <code>runner dashboard-link</code> (or Slack's <code>/dashboard</code>).</p>",
    );
    html::page(status, "sign in", &Viewer::ReadOnly, None, &h)
}

/// `POST /dashboard/sign-in`: the token as the webhook takes it, checked by the same code.
pub(super) fn post(app: &App, req: &Request) -> Reply {
    let fields = form::parse(&String::from_utf8_lossy(&req.body));
    let token = fields.iter().find(|(k, _)| k == "token").map(|(_, v)| v.trim()).unwrap_or_default();
    let probe = Request {
        method: "POST".into(),
        path: req.path.clone(),
        query: String::new(),
        headers: vec![("authorization".into(), format!("Bearer {token}"))],
        body: Vec::new(),
        remote: req.remote,
        client: req.client,
        keep_alive: false,
    };
    if token.is_empty() || app.auth.check(&probe, now_unix()).is_err() {
        return Err(page(401, Some("That token is not the one runner is configured with.")));
    }
    start(app, "sign-in")
}

/// `GET /dashboard/link?t=…`: a link from `runner dashboard-link`; a tampered or expired one
/// gets the sign-in page.
pub(super) fn link(app: &App, req: &Request) -> Reply {
    let fields = form::parse(&req.query);
    let token = fields.iter().find(|(k, _)| k == "t").map(|(_, v)| v.as_str()).unwrap_or_default();
    let key = session::key(&app.home).map_err(internal)?;
    if !key.is_some_and(|k| session::link_valid(&k, token, now_unix())) {
        return Err(page(
            401,
            Some("This link is invalid or has expired: ask for a new one, or sign in with the token."),
        ));
    }
    start(app, "link")
}

/// Open a session, audit it, and send the browser to the overview with its cookie.
fn start(app: &App, how: &str) -> Reply {
    let key = session::key_or_create(&app.home).map_err(internal)?;
    let ttl = app.settings.config.server.session_ttl.std().as_secs();
    let (cookie, s) = session::open(&key, now_unix(), ttl).map_err(internal)?;
    events::append(&app.home, &Event::new(s.actor(), "dashboard.sign-in").with("by", how)).map_err(internal)?;
    Ok(see_other("/dashboard").with_header("Set-Cookie", session::set_cookie(&cookie, ttl, secure(app))))
}

/// `POST /dashboard/sign-out`: forget the cookie in this browser.
pub(super) fn sign_out(app: &App, s: &Session) -> Reply {
    events::append(&app.home, &Event::new(s.actor(), "dashboard.sign-out")).map_err(internal)?;
    Ok(see_other("/dashboard").with_header("Set-Cookie", session::set_cookie("", 0, secure(app))))
}

fn secure(app: &App) -> bool {
    app.base_url.starts_with("https://")
}

/// A redirect after a form, so reloading does not post it again.
pub(super) fn see_other(location: &str) -> Response {
    let body = format!("<a href=\"{}\">continue</a>\n", esc(location));
    Response::new(303, "text/html; charset=utf-8", body).with_header("Location", location.to_string())
}
