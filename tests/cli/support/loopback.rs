//! Real HTTP servers on 127.0.0.1:0 for tests: health targets, a stand-in for Slack's incoming
//! webhook, a dead-man ping receiver. Each records what it was sent.

use std::sync::{Arc, Mutex};
use std::thread;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub method: String,
    pub path: String,
    pub body: String,
}

pub(crate) struct Server {
    pub url: String,
    server: Arc<tiny_http::Server>,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Server {
    /// Serve every request with `respond(path) -> (status, body)`, each on its own thread so a
    /// slow answer does not hold up the next request.
    pub(crate) fn new(respond: impl Fn(&str) -> (u16, String) + Send + Sync + 'static) -> Server {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind loopback"));
        let url = format!("http://{}", server.server_addr().to_ip().unwrap());
        let hits = Arc::new(Mutex::new(Vec::new()));
        let respond = Arc::new(respond);
        let (srv, log) = (server.clone(), hits.clone());
        thread::spawn(move || {
            for mut req in srv.incoming_requests() {
                let mut body = String::new();
                let _ = req.as_reader().read_to_string(&mut body);
                let path = req.url().to_string();
                log.lock().unwrap().push(Hit { method: req.method().to_string(), path: path.clone(), body });
                let respond = respond.clone();
                thread::spawn(move || {
                    let (status, text) = respond(&path);
                    let _ = req.respond(tiny_http::Response::from_string(text).with_status_code(status));
                });
            }
        });
        Server { url, server, hits }
    }

    /// A server that answers 200 with `body`.
    pub(crate) fn ok(body: &str) -> Server {
        let body = body.to_string();
        Server::new(move |_| (200, body.clone()))
    }

    pub(crate) fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.server.unblock();
    }
}
