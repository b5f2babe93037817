//! The serve-webhook harness shared by serve_webhook, slack and dashboard: the real binary on
//! 127.0.0.1:0 with test secrets, and a raw-socket client so every byte is what a client sees.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::Test;

pub(crate) const TOKEN: &str = "test-token-0123456789";
pub(crate) const HMAC_SECRET: &str = "test-hmac-secret";
pub(crate) const SLACK_SECRET: &str = "test-slack-secret";

/// A config with every secret set through environment variables, plus `extra` TOML. Patches
/// stay queued (no apply on arrival) so tests see the states intake leaves; roundtrip.rs tests
/// the applying listener.
pub(crate) fn config(extra: &str) -> String {
    format!(
        "[server]\ntoken_env = \"T_TOKEN\"\nhmac_secret_env = \"T_HMAC\"\nrate_limit = 0\n\
         apply_on_receive = false\n{extra}\n\
         [slack]\nsigning_secret_env = \"T_SLACK\"\n"
    )
}

/// A running `runner serve-webhook`; killed when dropped.
pub(crate) struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    pub(crate) fn start(t: &Test) -> Server {
        Server::start_with(t, &["serve-webhook", "--listen", "127.0.0.1:0"])
    }

    pub(crate) fn start_with(t: &Test, args: &[&str]) -> Server {
        let mut child = t
            .command(args)
            .env("T_TOKEN", TOKEN)
            .env("T_HMAC", HMAC_SECRET)
            .env("T_SLACK", SLACK_SECRET)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve-webhook");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let Some(addr) = line.trim().strip_prefix("listening on http://") else {
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(100));
            let err = stderr.lock().unwrap().clone();
            panic!("serve-webhook did not start: first line {line:?}; stderr: {err}");
        };
        let addr = addr.parse().unwrap();
        Server { child, addr, stderr }
    }

    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub(crate) fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        send(self.addr, "GET", path, headers, b"")
    }

    /// POST a JSON body with the bearer token.
    pub(crate) fn post_json(&self, path: &str, body: &str) -> Reply {
        let auth = format!("Bearer {TOKEN}");
        send(
            self.addr,
            "POST",
            path,
            &[("Authorization", &auth), ("Content-Type", "application/json")],
            body.as_bytes(),
        )
    }

    pub(crate) fn signal(&self, sig: &str) {
        let status = std::process::Command::new("kill").args([sig, &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }

    /// Wait for the process to exit and return its code.
    pub(crate) fn wait(&mut self) -> Option<i32> {
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("serve-webhook did not exit; stderr: {}", self.stderr());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    #[track_caller]
    pub(crate) fn status(self, expected: u16) -> Reply {
        assert_eq!(self.status, expected, "{self:#?}");
        self
    }
}

/// One request on a fresh connection (`Connection: close`), read to the end.
pub(crate) fn send(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    let _ = stream.write_all(&bytes);
    read_reply(&mut stream)
}

pub(crate) fn read_reply(stream: &mut TcpStream) -> Reply {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the reply");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no reply head in {text:?}"));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("bad head {head:?}"));
    Reply { status, head: head.to_string(), body: body.to_string() }
}

/// The head of an authorised `POST /webhook` announcing `length` body bytes, with `extra`
/// header lines (each ending in CRLF); for tests that send the body themselves, in pieces.
pub(crate) fn post_head(length: usize, extra: &str) -> String {
    format!(
        "POST /webhook HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n\
         {extra}Content-Length: {length}\r\n\r\n"
    )
}

pub(crate) fn hex_hmac(secret: &str, message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// POST a form to a Slack route, signed with `secret` at `ts` the way Slack signs (v0).
pub(crate) fn post_slack(server: &Server, route: &str, body: &str, ts: i64, secret: &str) -> Reply {
    let sig = format!("v0={}", hex_hmac(secret, format!("v0:{ts}:{body}").as_bytes()));
    let ts = ts.to_string();
    let headers = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("X-Slack-Request-Timestamp", ts.as_str()),
        ("X-Slack-Signature", sig.as_str()),
    ];
    send(server.addr, "POST", route, &headers, body.as_bytes())
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A small envelope that writes one file.
pub(crate) fn envelope(id: &str) -> String {
    json!({ "id": id, "description": "test", "operations": [{ "op": "write", "path": "notes/a.txt", "contents": "hi\n" }] })
        .to_string()
}

pub(crate) fn pending(t: &Test, id: &str) -> std::path::PathBuf {
    t.join(&format!(".runner/main/patches/pending/{id}.json"))
}

/// Read exactly one response (head and `Content-Length` body) from a kept-alive connection.
pub(crate) fn read_one(stream: &mut TcpStream) -> (String, String) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("a response head");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let length: usize =
        head.lines().find_map(|l| l.strip_prefix("Content-Length: ")).map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    (head, String::from_utf8(body).unwrap())
}
