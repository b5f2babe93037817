//! The listener's state and its one route table. Handlers return `Reply`: an error answer is an
//! `Err(Response)` so `?` stops at the first refusal.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Result;
use serde_json::json;

use crate::config::Settings;
use crate::http::auth::{Auth, Proof};
use crate::http::group_commit::GroupCommit;
use crate::http::limit::{Class, RateLimiter};
use crate::http::metrics::Metrics;
use crate::http::replay::{Queued, Ran, Replays};
use crate::http::wire::{Request, Response};
use crate::http::{dashboard, forwarded, intake, openapi, slack, wait};
use crate::operator::kick::Kicker;
use crate::sign::now_unix;
use crate::store::events::{self, Event};
use crate::store::{Home, fs::sync_dir};

pub(crate) type Reply = Result<Response, Response>;

/// Patches with the same id are checked and written one at a time; ids hash onto these.
const ID_STRIPES: usize = 64;

pub(crate) struct App {
    pub settings: Settings,
    pub home: Home,
    pub auth: Auth,
    /// `patch.received` lines, appended and synced a batch at a time.
    pub audit: GroupCommit<Event>,
    /// Directories patches were renamed into, synced a batch at a time.
    pub dir_syncs: GroupCommit<PathBuf>,
    pub slack_secret: Option<String>,
    pub limiter: RateLimiter,
    /// Signatures already accepted, so a replayed signed request queues nothing...
    pub replays: Replays<Queued>,
    /// ...and a replayed Slack command (remembered with the command it ran) runs nothing.
    pub slack_replays: Replays<Ran>,
    pub metrics: Metrics,
    /// Where clients reach us, for links: `server.public_url`, else `http://<listen address>`.
    pub base_url: String,
    /// Starts apply runs as patches arrive (`server.apply_on_receive`).
    pub kicker: Kicker,
    id_stripes: Vec<Mutex<()>>,
}

impl App {
    pub(crate) fn new(settings: Settings, local: SocketAddr) -> Result<App> {
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
                dirs.iter().try_for_each(|d| sync_dir(d))
            }),
            slack_secret: settings.config.slack.signing_secret().resolve()?,
            limiter: RateLimiter::new(server.rate_limit),
            replays: Replays::open(&Home::new(&settings.home), "signatures.json", now_unix())?,
            slack_replays: Replays::open(&Home::new(&settings.home), "slack-signatures.json", now_unix())?,
            metrics: Metrics::default(),
            base_url,
            kicker: Kicker::new(&settings, server.apply_on_receive)?,
            id_stripes: (0..ID_STRIPES).map(|_| Mutex::new(())).collect(),
            settings,
        })
    }

    /// Answer one request and count it.
    pub(crate) fn handle(&self, req: &Request) -> Response {
        let route = route_of(&req.path);
        let res = self.dispatch(route, req).unwrap_or_else(|e| e);
        self.metrics.observe(route, res.status);
        res
    }

    /// Judge a request by its head, before its body is read: a `POST /webhook` without a
    /// credential, or with a wrong bearer token, is refused without reading (or buffering) the
    /// body; such a refusal spends the client's anonymous bucket. Signatures need the body.
    pub(crate) fn admit(&self, req: &Request) -> Result<(), Response> {
        let route = route_of(&req.path);
        if (route, req.method.as_str()) != ("/webhook", "POST") {
            return Ok(());
        }
        let refused = match self.auth.check_head(req, now_unix()) {
            Ok(()) => return Ok(()),
            Err(res) => self.limit(req, Class::Anonymous).err().unwrap_or(res),
        };
        self.metrics.observe(route, refused.status);
        Err(refused)
    }

    /// The address clients reach this listener at: `public_url`, else what a trusted proxy says
    /// the client reached, else the listening address.
    fn public_base(&self, req: &Request) -> String {
        match &self.settings.config.server.public_url {
            Some(_) => self.base_url.clone(),
            None => forwarded::base_url(req, &self.settings.config.server.trusted_proxies)
                .unwrap_or_else(|| self.base_url.clone()),
        }
    }

    /// Who the request is from (see `forwarded`).
    pub(crate) fn client_of(&self, req: &Request) -> IpAddr {
        forwarded::client_of(req, &self.settings.config.server.trusted_proxies)
    }

    /// Whether `peer` is a proxy whose forwarded client address is believed.
    pub(crate) fn trusts(&self, peer: IpAddr) -> bool {
        forwarded::is_trusted(&self.settings.config.server.trusted_proxies, peer)
    }

    fn dispatch(&self, route: &'static str, req: &Request) -> Reply {
        self.limit(req, self.class_of(route, req))?;
        // HEAD is GET without the body, which the connection leaves out when it answers.
        let method = if req.method == "HEAD" { "GET" } else { req.method.as_str() };
        match (route, method) {
            ("/health", "GET") => Ok(Response::json(200, &json!({ "ok": true }))),
            ("/openapi.json", "GET") => {
                Ok(Response::json(200, &openapi::document(&self.public_base(req), &self.settings)))
            }
            ("/webhook", "POST") => intake::post(self, req),
            ("/patches/{id}", "GET") => intake::get(self, req),
            ("/slack/commands", "POST") => slack::handle(self, req),
            ("/slack/interactions", "POST") => slack::interactions(self, req),
            ("/status", "GET") => self.guarded(req, || dashboard::status_json(self)),
            ("/dashboard", _) => dashboard::handle(self, req),
            ("/metrics", "GET") => self.guarded(req, || dashboard::metrics(self)),
            ("other", _) => Err(Response::error(404, format!("no route {}", req.path), None)),
            _ => Err(Response::error(405, format!("{} is not allowed on {route}", req.method), None)
                .with_header("Allow", allowed_methods(route))),
        }
    }

    /// Take a token from the client's bucket for `class`, or answer 429.
    fn limit(&self, req: &Request, class: Class) -> Result<(), Response> {
        self.limiter.allow(req.client, class, Instant::now()).map_err(|wait| {
            Response::error(429, "too many requests from this address: slow down", None)
                .with_header("Retry-After", wait.to_string())
        })
    }

    /// Whether the request proves a credential for its route, so it spends the authenticated
    /// bucket rather than the one anonymous (and failed) requests share. Checked again by the
    /// handler; a MAC is cheap next to what a request costs.
    fn class_of(&self, route: &str, req: &Request) -> Class {
        let proved = match route {
            "/slack/commands" | "/slack/interactions" => self
                .slack_secret
                .as_deref()
                .is_some_and(|secret| slack::check(secret.as_bytes(), req, now_unix()).is_ok()),
            "/dashboard" => dashboard::signed_in(self, req),
            _ => matches!(self.auth.check(req, now_unix()), Ok(Proof::Bearer | Proof::Signed(_))),
        };
        if proved { Class::Authenticated } else { Class::Anonymous }
    }

    /// A webhook answer held until its patch settles, when the poster asked to wait. Called
    /// after the request's handling permit is given back: a held answer takes no permit.
    pub(crate) fn hold(&self, req: &Request, res: Response) -> Response {
        wait::hold(self, req, res)
    }

    /// Status pages need the webhook's credentials unless `server.public_status` is set.
    fn guarded(&self, req: &Request, view: impl FnOnce() -> Reply) -> Reply {
        if !self.settings.config.server.public_status {
            self.auth.check(req, now_unix())?;
        }
        view()
    }

    /// The lock that serialises intake of one patch id.
    pub(crate) fn id_stripe(&self, env: &str, id: &str) -> &Mutex<()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (env, id).hash(&mut h);
        &self.id_stripes[h.finish() as usize % ID_STRIPES]
    }
}

/// The methods `dispatch` answers on a route, for a 405's `Allow` (a test sends each one).
fn allowed_methods(route: &str) -> &'static str {
    match route {
        "/webhook" | "/slack/commands" | "/slack/interactions" => "POST",
        "/dashboard" => "GET, HEAD, POST",
        _ => "GET, HEAD",
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
        p if p == "/dashboard" || p.starts_with("/dashboard/") => "/dashboard",
        "/metrics" => "/metrics",
        p if p.strip_prefix("/patches/").is_some_and(|id| !id.is_empty() && !id.contains('/')) => "/patches/{id}",
        _ => "other",
    }
}

/// An unexpected failure (I/O, a corrupt file): 500 with the error chain, which names files
/// but never secrets or bodies.
pub(crate) fn internal(err: anyhow::Error) -> Response {
    Response::error(500, format!("{err:#}"), None)
}
