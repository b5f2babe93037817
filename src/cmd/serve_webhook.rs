//! `runner serve-webhook`: bind, refuse a non-loopback address without a secret, write the
//! pidfile, print `listening on http://ADDR`, serve until SIGTERM/SIGINT, remove the pidfile.

use std::net::TcpListener;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};

use super::Context;
use crate::cli::ServeWebhookArgs;
use crate::exit::Outcome;
use crate::http::app::App;
use crate::http::server::{self, Options};
use crate::http::{signal, wire::Limits};
use crate::store::atomic;
use crate::store::queue::State;

pub(super) fn run(ctx: &Context, args: ServeWebhookArgs) -> Result<Outcome> {
    let settings = ctx.settings()?;
    let server = &settings.config.server;
    let listen = args.listen.clone().unwrap_or_else(|| server.listen.clone());
    let opts = Options {
        limits: Limits {
            max_header: server.max_header_bytes.0 as usize,
            max_body: server.max_body_bytes.0 as usize,
            timeout: server.read_timeout.std(),
        },
        threads: args.threads.unwrap_or(server.threads).max(1),
        max_connections: server.max_connections.max(1),
        per_client: server.connections_per_client(),
        max_body_memory: server.max_body_memory.0 as usize,
    };
    let pidfile = server.pidfile.clone();
    let listener = TcpListener::bind(&listen).with_context(|| format!("could not listen on {listen}"))?;
    let local = listener.local_addr().context("could not read the listening address")?;
    let app = App::new(settings, local)?;
    if app.auth.is_open() {
        if !local.ip().is_loopback() {
            bail!(
                "refusing to listen on {local} without a secret: set server.token_env (or token_file) or \
                 server.hmac_secret_env (or hmac_secret_file), or listen on 127.0.0.1"
            );
        }
        eprintln!(
            "runner: warning: no server.token or server.hmac_secret is configured: accepting unauthenticated \
             patches, on loopback only"
        );
    }
    // Patches a killed listener was writing when it died were never acknowledged: their temp
    // files are litter. Other writers (apply-patch FILE) may be at work, so only dead ones'.
    for env in app.settings.config.env.keys() {
        atomic::remove_orphaned_temps(&app.home.queue_dir(env, State::Pending))?;
    }
    signal::install()?;
    atomic::write(&pidfile, format!("{}\n", std::process::id()).as_bytes())?;
    let announced = if ctx.global.json {
        crate::output::json(&serde_json::json!({ "listening": format!("http://{local}"), "pid": std::process::id() }))
    } else {
        ctx.say(format!("listening on http://{local}"))
    };
    let served = announced.and_then(|()| server::serve(listener, Arc::new(app), opts));
    // Remove the pidfile only if it is still ours (a newer listener may have replaced it).
    if std::fs::read_to_string(&pidfile).is_ok_and(|p| p.trim() == std::process::id().to_string()) {
        atomic::remove(&pidfile)?;
    }
    served.map(|()| Outcome::Yes)
}
