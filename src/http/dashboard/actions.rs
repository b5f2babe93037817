//! What the dashboard's forms do: set the mode, approve, revert, retry, sign out. Each needs a
//! session and the CSRF token bound to it (403 otherwise), calls the same library code as the
//! CLI, and is audited as `web:<session>`.

use super::html::{self, Viewer};
use super::{patches, signin};
use crate::http::app::{App, Reply, internal};
use crate::http::wire::{Request, Response};
use crate::operator;
use crate::operator::session::{self, Session};
use crate::slack::form;
use crate::store::mode::{self, Mode};
use crate::store::queue;

fn forbidden(viewer: &Viewer, why: &str) -> Response {
    let body =
        format!("<h1>Not allowed</h1>{}<p><a href=/dashboard>back to the dashboard</a></p>", html::notice("bad", why));
    html::page(403, "not allowed", viewer, None, &body)
}

/// Any `POST` under /dashboard but sign-in.
pub(super) fn post(app: &App, req: &Request, session: Option<Session>) -> Reply {
    let Some(session) = session else {
        return Err(forbidden(&Viewer::ReadOnly, "Sign in first: changes need a dashboard session."));
    };
    let viewer = Viewer::Session(session.clone());
    let fields = form::parse(&String::from_utf8_lossy(&req.body));
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let key = session::key(&app.home)
        .map_err(internal)?
        .ok_or_else(|| forbidden(&viewer, "Sessions were revoked: sign in again."))?;
    if !field("csrf").is_some_and(|t| session::csrf_matches(&key, &session, t)) {
        return Err(forbidden(&viewer, "This form has no valid CSRF token: reload the page and try again."));
    }
    let actor = session.actor();
    match req.path.as_str() {
        "/dashboard/sign-out" => signin::sign_out(app, &session),
        "/dashboard/mode" => {
            let new: Mode = field("mode")
                .unwrap_or_default()
                .parse()
                .map_err(|e: anyhow::Error| Response::error(400, format!("{e:#}"), Some("mode")))?;
            mode::set(&app.home, new, &actor).map_err(internal)?;
            Ok(signin::see_other("/dashboard"))
        }
        path => {
            let Some((id, action)) = path.strip_prefix("/dashboard/patches/").and_then(|rest| rest.split_once('/'))
            else {
                return Err(Response::error(404, format!("no route {path}"), None));
            };
            queue::check_id(id).map_err(|e| Response::error(404, format!("{e:#}"), Some("id")))?;
            let env = app
                .settings
                .env(field("env"))
                .map_err(|e| Response::error(400, format!("{e:#}"), Some("env")))?
                .0
                .to_string();
            let refusal = match action {
                "approve" => operator::approve(&app.settings, &app.home, &env, id, &actor).map(|_| None),
                "retry" => operator::retry(&app.settings, &app.home, &env, id, &actor).map(|()| None),
                "revert" => {
                    let force = field("force") == Some("1");
                    operator::revert(&app.settings, &app.home, &env, id, force, &actor).map(|r| {
                        (!r.reverted).then(|| {
                            format!(
                                "refused to revert: these files changed since it was applied: {}",
                                r.changed_since.join(", ")
                            )
                        })
                    })
                }
                other => return Err(Response::error(404, format!("no action {other:?}"), None)),
            };
            match refusal {
                Ok(None) => Ok(signin::see_other(&format!("{}&done={action}", patches::link(&env, id)))),
                Ok(Some(why)) => patches::detail(app, &viewer, id, Some(&env), Some(("bad", &why))),
                Err(e) => patches::detail(app, &viewer, id, Some(&env), Some(("bad", &format!("{e:#}")))),
            }
        }
    }
}
