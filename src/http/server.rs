//! The accept loop and the connection threads. Each connection gets its own small thread (up
//! to `max_connections`; past that a connection is answered 503 and closed), so a slow or
//! stalled client holds only its own thread; at most `threads` requests are handled at once,
//! which bounds the CPU and disk work. SIGTERM/SIGINT stop the accept loop; requests in flight
//! finish, idle connections close, and `serve` returns.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;

use crate::http::app::App;
use crate::http::signal;
use crate::http::wire::{Conn, Limits, Response};
use crate::store::events::rfc3339;

const CONN_STACK: usize = 256 << 10;
/// How often the accept loop looks at the stop flag.
const ACCEPT_TICK_MS: i32 = 250;
/// Connections being refused at once (each for at most about a second).
const MAX_REFUSING: usize = 64;

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub limits: Limits,
    pub threads: usize,
    pub max_connections: usize,
}

/// Serve until a stop signal, then wait for open connections to finish.
pub fn serve(listener: TcpListener, app: Arc<App>, opts: Options) -> Result<()> {
    listener.set_nonblocking(true).context("could not configure the listening socket")?;
    let active = Arc::new(AtomicUsize::new(0));
    let refusing = Arc::new(AtomicUsize::new(0));
    let permits = Arc::new(Permits::new(opts.threads.max(1)));
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
            refuse(stream, &app, addr, &refusing);
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let slot = Slot(active.clone());
        let (app, permits) = (app.clone(), permits.clone());
        let spawned = std::thread::Builder::new().name("conn".into()).stack_size(CONN_STACK).spawn(move || {
            let _slot = slot;
            connection(stream, addr, &app, &permits, &opts.limits);
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
fn connection(stream: TcpStream, addr: SocketAddr, app: &App, permits: &Permits, limits: &Limits) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    let mut conn = Conn::new(stream, addr.ip());
    let _ = conn.set_write_timeout(limits.timeout);
    loop {
        let req = match conn.read_request(limits, &signal::STOP) {
            Ok(req) => req,
            Err(e) => {
                if let Some(res) = e.response {
                    app.metrics.observe("-", res.status);
                    access(addr, "-", "-", &res, Duration::ZERO);
                    if conn.send(&res, false).is_ok() {
                        conn.linger();
                    }
                }
                return;
            }
        };
        let started = Instant::now();
        let res = {
            let _permit = permits.acquire();
            app.handle(&req)
        };
        let res = app.hold(&req, res);
        let keep_alive = req.keep_alive && !signal::stopping();
        // Logged before sending, so a client that has its answer can find the line.
        access(addr, &req.method, &req.path, &res, started.elapsed());
        if conn.send(&res, keep_alive).is_err() || !keep_alive {
            return;
        }
    }
}

/// Answer 503 and close, on a short-lived thread that lingers so the client reads the answer
/// (closing with its request unread would reset the connection). Past `MAX_REFUSING` such
/// threads the connection is just dropped.
fn refuse(stream: TcpStream, app: &App, addr: SocketAddr, refusing: &Arc<AtomicUsize>) {
    let res = Response::error(503, "too many open connections: retry shortly", None);
    app.metrics.observe("-", res.status);
    access(addr, "-", "-", &res, Duration::ZERO);
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
    let mut fds = libc::pollfd { fd: listener.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd for a descriptor that outlives the call.
    unsafe { libc::poll(&mut fds, 1, ACCEPT_TICK_MS) > 0 }
}

/// One JSON access-log line per request on stderr: no bodies, no query strings, no headers.
fn access(addr: SocketAddr, method: &str, path: &str, res: &Response, took: Duration) {
    log_line(&json!({
        "time": now(),
        "remote": addr.ip().to_string(),
        "method": method,
        "path": path,
        "status": res.status,
        "bytes": res.body.len(),
        "ms": (took.as_secs_f64() * 1000.0 * 100.0).round() / 100.0,
    }));
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
