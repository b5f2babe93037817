//! The accept loop and the connection threads. Each connection gets its own small thread (up
//! to `max_connections`; past that a connection is answered 503 and closed), so a slow or
//! stalled client holds only its own thread; at most `threads` requests are handled at once,
//! which bounds the CPU and disk work. One client address holds at most its share of the
//! connections, and bodies are read only within a server-wide memory budget (see `budget`).
//! SIGTERM/SIGINT stop the accept loop; requests in flight finish, idle connections close, and
//! `serve` returns.

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;

use crate::http::app::App;
use crate::http::budget::{BodyBudget, Shares};
use crate::http::signal;
use crate::http::wire::{Conn, Limits, Response};
use crate::time::rfc3339;

const CONN_STACK: usize = 256 << 10;
/// How often the accept loop looks at the stop flag.
const ACCEPT_TICK: rustix::event::Timespec = rustix::event::Timespec { tv_sec: 0, tv_nsec: 250_000_000 };
/// Connections being refused at once (each for at most about a second).
const MAX_REFUSING: usize = 64;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    pub limits: Limits,
    pub threads: usize,
    pub max_connections: usize,
    /// Connections one client address may hold at once.
    pub per_client: usize,
    /// Bytes of request bodies held at once, all connections together.
    pub max_body_memory: usize,
}

/// What every connection thread shares.
struct Shared {
    permits: Permits,
    shares: Arc<Shares>,
    bodies: BodyBudget,
}

/// Serve until a stop signal, then wait for open connections to finish.
pub(crate) fn serve(listener: TcpListener, app: Arc<App>, opts: Options) -> Result<()> {
    listener.set_nonblocking(true).context("could not configure the listening socket")?;
    let active = Arc::new(AtomicUsize::new(0));
    let refusing = Arc::new(AtomicUsize::new(0));
    let shared = Arc::new(Shared {
        permits: Permits::new(opts.threads.max(1)),
        shares: Arc::new(Shares::new(opts.per_client)),
        bodies: BodyBudget::new(opts.max_body_memory),
    });
    while !signal::stopping() {
        if !readable(&listener) {
            continue;
        }
        let (stream, addr) = match listener.accept() {
            Ok(pair) => pair,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => {
                // Out of descriptors or memory: back off rather than spin.
                log_line(&json!({ "time": now(), "event": "accept-error", "error": e.to_string() }));
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if active.load(Ordering::SeqCst) >= opts.max_connections {
            refuse(stream, &app, addr, &refusing, "too many open connections: retry shortly");
            continue;
        }
        // A direct client's connections count against its share for as long as they are open;
        // a trusted proxy's requests count against the share of the client they are for.
        let share = match (!app.trusts(addr.ip())).then(|| shared.shares.claim(addr.ip())) {
            Some(None) => {
                refuse(stream, &app, addr, &refusing, "too many open connections from this address: retry shortly");
                continue;
            }
            share => share.flatten(),
        };
        active.fetch_add(1, Ordering::SeqCst);
        let slot = Slot(active.clone());
        let (app, shared) = (app.clone(), shared.clone());
        let spawned = std::thread::Builder::new().name("conn".into()).stack_size(CONN_STACK).spawn(move || {
            let (_slot, _share) = (slot, share);
            connection(stream, addr, &app, &shared, &opts.limits);
        });
        if let Err(e) = spawned {
            log_line(&json!({ "time": now(), "event": "spawn-error", "error": e.to_string() }));
        }
    }
    drop(listener);
    let grace = Instant::now() + opts.limits.timeout + Duration::from_secs(5);
    while active.load(Ordering::SeqCst) > 0 && Instant::now() < grace {
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Serve one connection's requests until it closes, errs, idles out or we stop.
fn connection(stream: TcpStream, addr: SocketAddr, app: &App, shared: &Shared, limits: &Limits) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    let mut conn = Conn::new(stream, addr.ip());
    let _ = conn.set_write_timeout(limits.timeout);
    let proxied = app.trusts(addr.ip());
    loop {
        let mut incoming = match conn.read_head(limits, &signal::STOP) {
            Ok(incoming) => incoming,
            Err(e) => {
                if let Some(res) = e.response {
                    app.metrics.observe("-", res.status);
                    close_with(conn, addr, addr.ip(), "-", "-", &res);
                }
                return;
            }
        };
        let started = Instant::now();
        let client = app.client_of(&incoming.req);
        incoming.req.client = client;
        let (method, path) = (incoming.req.method.clone(), incoming.req.path.clone());
        let _share = match proxied.then(|| shared.shares.claim(client)) {
            Some(None) => {
                let res = Response::error(503, "too many open connections from this address: retry shortly", None)
                    .with_header("Retry-After", "1");
                app.metrics.observe("-", res.status);
                return close_with(conn, addr, client, &method, &path, &res);
            }
            share => share.flatten(),
        };
        if let Err(res) = app.admit(&incoming.req) {
            return close_with(conn, addr, client, &method, &path, &res);
        }
        let Some(_reserved) = shared.bodies.reserve(incoming.body_length()) else {
            let res = Response::error(503, "the listener holds as many request bodies as it may: retry shortly", None)
                .with_header("Retry-After", "1");
            app.metrics.observe("-", res.status);
            return close_with(conn, addr, client, &method, &path, &res);
        };
        let req = match conn.read_body(incoming) {
            Ok(req) => req,
            Err(e) => {
                if let Some(res) = e.response {
                    app.metrics.observe("-", res.status);
                    close_with(conn, addr, client, &method, &path, &res);
                }
                return;
            }
        };
        let res = {
            let _permit = shared.permits.acquire();
            app.handle(&req)
        };
        let res = app.hold(&req, res);
        let keep_alive = req.keep_alive && !signal::stopping();
        // Logged before sending, so a client that has its answer can find the line.
        access(addr, client, &req.method, &req.path, &res, started.elapsed());
        let sent = if req.method == "HEAD" { conn.send_head(&res, keep_alive) } else { conn.send(&res, keep_alive) };
        if sent.is_err() || !keep_alive {
            return;
        }
    }
}

/// Answer and close, with whatever of the request is still unread left unread: log it, send
/// it, and linger so the client reads the answer instead of a reset.
fn close_with(mut conn: Conn, addr: SocketAddr, client: IpAddr, method: &str, path: &str, res: &Response) {
    access(addr, client, method, path, res, Duration::ZERO);
    if conn.send(res, false).is_ok() {
        conn.linger();
    }
}

/// Answer 503 and close, on a short-lived thread that lingers so the client reads the answer
/// (closing with its request unread would reset the connection). Past `MAX_REFUSING` such
/// threads the connection is just dropped.
fn refuse(stream: TcpStream, app: &App, addr: SocketAddr, refusing: &Arc<AtomicUsize>, why: &str) {
    let res = Response::error(503, why, None).with_header("Retry-After", "1");
    app.metrics.observe("-", res.status);
    access(addr, addr.ip(), "-", "-", &res, Duration::ZERO);
    if refusing.fetch_add(1, Ordering::SeqCst) >= MAX_REFUSING {
        refusing.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    let slot = Slot(refusing.clone());
    let _ = std::thread::Builder::new().name("refuse".into()).stack_size(64 << 10).spawn(move || {
        let _slot = slot;
        let _ = stream.set_nonblocking(false);
        let mut conn = Conn::new(stream, addr.ip());
        let _ = conn.set_write_timeout(Duration::from_secs(1));
        if conn.send(&res, false).is_ok() {
            conn.linger();
        }
    });
}

/// Wait up to one tick for a connection to accept. A signal interrupts the wait at once.
fn readable(listener: &TcpListener) -> bool {
    let mut fds = [rustix::event::PollFd::new(listener, rustix::event::PollFlags::IN)];
    rustix::event::poll(&mut fds, Some(&ACCEPT_TICK)).is_ok_and(|ready| ready > 0)
}

/// One JSON access-log line per request on stderr: no bodies, no query strings, no headers.
/// `client` is logged when a trusted proxy named another than the peer.
fn access(addr: SocketAddr, client: IpAddr, method: &str, path: &str, res: &Response, took: Duration) {
    let mut line = json!({
        "time": now(),
        "remote": addr.ip().to_string(),
        "method": method,
        "path": path,
        "status": res.status,
        "bytes": res.body.len(),
        "ms": (took.as_secs_f64() * 1000.0 * 100.0).round() / 100.0,
    });
    if client != addr.ip() {
        line["client"] = client.to_string().into();
    }
    log_line(&line);
}

fn log_line(value: &serde_json::Value) {
    let mut line = value.to_string();
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

fn now() -> String {
    rfc3339::format(&chrono::Utc::now())
}

/// Gives back a connection slot when its thread ends, however it ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A counting semaphore: at most N requests handled at once.
struct Permits {
    free: Mutex<usize>,
    freed: Condvar,
}

struct Permit<'a>(&'a Permits);

impl Permits {
    fn new(n: usize) -> Permits {
        Permits { free: Mutex::new(n), freed: Condvar::new() }
    }

    fn acquire(&self) -> Permit<'_> {
        let mut free = self.free.lock().unwrap();
        while *free == 0 {
            free = self.freed.wait(free).unwrap();
        }
        *free -= 1;
        Permit(self)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap() += 1;
        self.0.freed.notify_one();
    }
}
