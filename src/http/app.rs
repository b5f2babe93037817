//! The listener's state and its one route table. Handlers return `Reply`: an error answer is an
//! `Err(Response)` so `?` stops at the first refusal.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Result;
use serde_json::json;

use crate::config::Settings;
use crate::http::auth::{self, Auth};
use crate::http::commit::GroupCommit;
use crate::http::limit::RateLimiter;
use crate::http::metrics::Metrics;
use crate::http::wire::{Request, Response};
use crate::http::{dashboard, intake, openapi, wait};
use crate::operator::kick::Kicker;
use crate::store::events::{self, Event};
use crate::store::{Home, atomic};

pub type Reply = Result<Response, Response>;

/// Patches with the same id are checked and written one at a time; ids hash onto these.
const ID_STRIPES: usize = 64;

pub struct App {
    pub settings: Settings,
    pub home: Home,
    pub auth: Auth,
    /// `patch.received` lines, appended and synced a batch at a time.
    pub audit: GroupCommit<Event>,
    /// Directories patches were renamed into, synced a batch at a time.
    pub dir_syncs: GroupCommit<PathBuf>,
    pub slack_secret: Option<String>,
    pub limiter: RateLimiter,
    pub metrics: Metrics,
    /// Where clients reach us, for links: `server.public_url`, else `http://<listen address>`.
    pub base_url: String,
    /// Starts apply runs as patches arrive (`server.apply_on_receive`).
    pub kicker: Kicker,
    id_stripes: Vec<Mutex<()>>,
}

impl App {
    pub fn new(settings: Settings, local: SocketAddr) -> Result<App> {
        let server = &settings.config.server;
        let base_url = match &server.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{local}"),
        };
        Ok(App {
            home: Home::new(&settings.home),
            auth: Auth::from_config(server)?,
            audit: {
                let home = Home::new(&settings.home);
                GroupCommit::start(move |batch: Vec<Event>| events::append_all(&home, &batch))
            },
            dir_syncs: GroupCommit::start(|mut dirs: Vec<PathBuf>| {
                dirs.sort();
                dirs.dedup();
                dirs.iter().try_for_each(|d| atomic::sync_dir(d))
            }),
            slack_secret: settings.config.slack.signing_secret().resolve()?,
            limiter: RateLimiter::new(server.rate_limit),
            metrics: Metrics::default(),
            base_url,
            kicker: Kicker::new(&settings, server.apply_on_receive)?,
            id_stripes: (0..ID_STRIPES).map(|_| Mutex::new(())).collect(),
            settings,
        })
    }

    /// Answer one request and count it.
    pub fn handle(&self, req: &Request) -> Response {
        let route = route_of(&req.path);
        let res = self.dispatch(route, req).unwrap_or_else(|e| e);
        self.metrics.observe(route, res.status);
        res
    }

    fn dispatch(&self, route: &'static str, req: &Request) -> Reply {
        if let Err(wait) = self.limiter.allow(req.remote, Instant::now()) {
            return Err(Response::error(429, "too many requests from this address: slow down", None)
                .with_header("Retry-After", wait.to_string()));
        }
        let method = req.method.as_str();
        match (route, method) {
            ("/health", "GET") => Ok(Response::json(200, &json!({ "ok": true }))),
            ("/openapi.json", "GET") => Ok(Response::json(200, &openapi::document(&self.base_url, &self.settings))),
            ("/webhook", "POST") => intake::post(self, req),
            ("/patches/{id}", "GET") => intake::get(self, req),
            ("/slack/commands", "POST") => crate::slack::handle(self, req),
            ("/slack/interactions", "POST") => crate::slack::interactions::handle(self, req),
            ("/status", "GET") => self.guarded(req, || dashboard::status_json(self)),
            ("/dashboard", "GET") => self.guarded(req, || dashboard::page(self)),
            ("/metrics", "GET") => self.guarded(req, || dashboard::metrics(self)),
            ("other", _) => Err(Response::error(404, format!("no route {}", req.path), None)),
            _ => Err(Response::error(405, format!("{method} is not allowed on {route}"), None)
                .with_header("Allow", allowed_methods(route))),
        }
    }

    /// A webhook answer held until its patch settles, when the poster asked to wait. Called
    /// after the request's handling permit is given back: a held answer takes no permit.
    pub fn hold(&self, req: &Request, res: Response) -> Response {
        wait::hold(self, req, res)
    }

    /// Status pages need the webhook's credentials unless `server.public_status` is set.
    fn guarded(&self, req: &Request, view: impl FnOnce() -> Reply) -> Reply {
        if !self.settings.config.server.public_status {
            self.auth.check(req, auth::now_unix())?;
        }
        view()
    }

    /// The lock that serialises intake of one patch id.
    pub fn id_stripe(&self, env: &str, id: &str) -> &Mutex<()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (env, id).hash(&mut h);
        &self.id_stripes[h.finish() as usize % ID_STRIPES]
    }
}

/// The route pattern a path falls under: the label for metrics and the key for dispatch.
fn route_of(path: &str) -> &'static str {
    match path {
        "/health" => "/health",
        "/openapi.json" => "/openapi.json",
        "/webhook" => "/webhook",
        "/slack/commands" => "/slack/commands",
        "/slack/interactions" => "/slack/interactions",
        "/status" => "/status",
        "/dashboard" => "/dashboard",
        "/metrics" => "/metrics",
        p if p.strip_prefix("/patches/").is_some_and(|id| !id.is_empty() && !id.contains('/')) => "/patches/{id}",
        _ => "other",
    }
}

/// The methods a route answers, for a 405's `Allow` header (RFC 9110).
fn allowed_methods(route: &str) -> &'static str {
    match route {
        "/webhook" | "/slack/commands" | "/slack/interactions" => "POST",
        "/health" => "GET, HEAD",
        _ => "GET",
    }
}

/// An unexpected failure (I/O, a corrupt file): 500 with the error chain, which names files
/// but never secrets or bodies.
pub fn internal(err: anyhow::Error) -> Response {
    Response::error(500, format!("{err:#}"), None)
}
