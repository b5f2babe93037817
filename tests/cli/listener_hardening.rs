//! serve-webhook against hostile clients, over raw sockets: framing RFC 9112 says to reject,
//! HEAD, 405 with Allow, Date; one address holding more than its share of connections; anonymous
//! requests against an authenticated client's rate limit; trusted proxies; bodies held in memory;
//! and signed requests replayed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::Test;
use crate::support::webhook::*;

/// Send raw bytes on a fresh connection and read the answer to its end.
fn raw(addr: SocketAddr, bytes: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(bytes).unwrap();
    read_reply(&mut s)
}

/// A connection from another loopback address than 127.0.0.1: bound before it connects.
fn connect_from(source: [u8; 4], to: SocketAddr) -> TcpStream {
    use rustix::net::{AddressFamily, SocketType, bind, connect, socket};
    let fd = socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
    bind(&fd, &std::net::SocketAddrV4::new(source.into(), 0)).unwrap();
    connect(&fd, &to).unwrap();
    let s = TcpStream::from(fd);
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// The `Date` header, which must be an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
#[track_caller]
fn assert_dated(head: &str) {
    let date = head.lines().find_map(|l| l.strip_prefix("Date: ")).unwrap_or_else(|| panic!("no Date in {head}"));
    assert!(date.len() == 29 && date.ends_with(" GMT"), "not an IMF-fixdate: {date:?}");
    chrono::NaiveDateTime::parse_from_str(date, "%a, %d %b %Y %H:%M:%S GMT")
        .unwrap_or_else(|e| panic!("not an IMF-fixdate: {date:?}: {e}"));
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| l.split_once(": ").filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

#[test]
fn framing_that_rfc_9112_rejects_is_refused_with_400() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    let body = envelope("framed");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // A bare LF hides X-Hidden inside X-A's value for a proxy that splits lines at CRLF only.
        ("bare LF", b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\nX-Hidden: b\r\nConnection: close\r\n\r\n".to_vec()),
        ("bare LF line end", b"GET /health HTTP/1.1\nHost: x\nConnection: close\n\n".to_vec()),
        (
            "signed length",
            format!(
                "POST /webhook HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n\
                 Content-Length: +{}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        ),
        ("control byte", b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\nConnection: close\r\n\r\n".to_vec()),
        ("DEL byte", b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\nConnection: close\r\n\r\n".to_vec()),
        ("name not a token", b"GET /health HTTP/1.1\r\nHost: x\r\nX(A): b\r\nConnection: close\r\n\r\n".to_vec()),
        ("no Host", b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n".to_vec()),
        ("two Hosts", b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n".to_vec()),
    ];
    for (what, bytes) in cases {
        let r = raw(server.addr, &bytes);
        assert_eq!(r.status, 400, "{what}: {r:?}");
        assert!(r.json()["error"].is_string(), "{what}: {r:?}");
        assert_dated(&r.head);
    }
    assert!(!pending(&t, "framed").exists(), "the +length body was not taken");
    // HTTP/1.0 has no Host, and a well-formed request is still served.
    raw(server.addr, b"GET /health HTTP/1.0\r\n\r\n").status(200);
}

#[test]
fn connection_is_read_as_a_token_list() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // `enclosed` contains "close" but is not the `close` option: the connection stays open.
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: enclosed\r\n\r\n").unwrap();
    let (head, _) = read_one(&mut s);
    assert_eq!(header(&head, "Connection"), Some("keep-alive"), "{head}");
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: te, Close\r\n\r\n").unwrap();
    let (head, _) = read_one(&mut s);
    assert_eq!(header(&head, "Connection"), Some("close"), "{head}");
}

#[test]
fn head_is_get_without_the_body_and_the_connection_stays_in_step() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    let get = server.get("/health", &[]).status(200);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{text}");
    assert_eq!(header(head, "Content-Length"), Some(get.body.len().to_string().as_str()), "{head}");
    assert_dated(head);
    // No body after the HEAD answer: the next bytes are the next answer.
    assert!(rest.starts_with("HTTP/1.1 404"), "a body followed the HEAD answer: {rest:?}");
    // HEAD on a route that needs credentials asks for them, as GET does.
    let r = send(server.addr, "HEAD", "/status", &[], b"");
    assert_eq!((r.status, r.body.as_str()), (401, ""), "{r:?}");
}

#[test]
fn every_405_names_the_allowed_methods_and_allow_is_exact() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    let auth = bearer();
    for path in
        ["/health", "/openapi.json", "/webhook", "/patches/x", "/slack/commands", "/status", "/dashboard", "/metrics"]
    {
        let r = send(server.addr, "OPTIONS", path, &[("Authorization", &auth)], b"");
        assert_eq!(r.status, 405, "{path}: {r:?}");
        assert_dated(&r.head);
        let allow = header(&r.head, "Allow").unwrap_or_else(|| panic!("{path}: 405 without Allow: {}", r.head));
        let allowed: Vec<&str> = allow.split(", ").collect();
        for method in ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"] {
            let r = send(server.addr, method, path, &[("Authorization", &auth)], b"");
            assert_eq!(r.status == 405, !allowed.contains(&method), "{method} {path} (Allow: {allow}): {r:?}");
            if r.status == 405 {
                assert_eq!(header(&r.head, "Allow"), Some(allow), "{method} {path}");
            }
        }
    }
}

#[test]
fn refusals_of_a_connection_carry_date_and_retry_after() {
    let t = Test::new().file("runner.toml", config("max_connections = 1"));
    let server = Server::start(&t);
    let _held = TcpStream::connect(server.addr).unwrap();
    let r = server.get("/health", &[]).status(503);
    assert_dated(&r.head);
    assert!(header(&r.head, "Retry-After").is_some(), "{}", r.head);
}

#[test]
fn one_address_holding_more_than_its_share_does_not_keep_another_out() {
    // max_connections_per_client is unset: a quarter of max_connections, 2.
    let t = Test::new().file("runner.toml", config("max_connections = 8"));
    let server = Server::start(&t);
    let mut hog: Vec<TcpStream> = (0..8).map(|_| connect_from([127, 0, 0, 1], server.addr)).collect();
    // Another address is served although the first opened as many connections as the listener takes.
    let mut other = connect_from([127, 0, 0, 2], server.addr);
    other.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    read_reply(&mut other).status(200);
    // The hog's third connection was refused; its first two still work.
    let refused = read_reply(&mut hog[2]).status(503);
    assert!(refused.json()["error"].as_str().unwrap().contains("from this address"), "{refused:?}");
    hog[0].write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    read_reply(&mut hog[0]).status(200);
}

#[test]
fn the_share_per_client_is_configurable() {
    let t = Test::new().file("runner.toml", config("max_connections = 8\nmax_connections_per_client = 3"));
    let server = Server::start(&t);
    let mut held: Vec<TcpStream> = (0..4).map(|_| connect_from([127, 0, 0, 1], server.addr)).collect();
    read_reply(&mut held[3]).status(503);
    for s in &mut held[..3] {
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        read_reply(s).status(200);
    }
    let t = Test::new().file("runner.toml", "[server]\nmax_connections_per_client = 0\n");
    t.run(["serve-webhook", "--listen", "127.0.0.1:0"]).code(2).stderr_contains("max_connections_per_client");
}

#[test]
fn anonymous_requests_do_not_lock_out_an_authenticated_client() {
    let t = Test::new().file("runner.toml", config("").replace("rate_limit = 0", "rate_limit = 3"));
    let server = Server::start(&t);
    // Everyone is 127.0.0.1, as behind a tunnel. Anonymous requests and failed credentials
    // spend the anonymous bucket...
    server.get("/health", &[]).status(200);
    server.get("/health", &[]).status(200);
    server.get("/status", &[("Authorization", "Bearer wrong")]).status(401);
    server.get("/health", &[]).status(429);
    send(server.addr, "POST", "/webhook", &[("Content-Type", "application/json")], envelope("anon").as_bytes())
        .status(429);
    // ...and the poster with the token is still served: its requests have their own bucket.
    server.post_json("/webhook", &envelope("authed-1")).status(202);
    let ts = now().to_string();
    let body = envelope("authed-2");
    let sig = format!("v1={}", hex_hmac(HMAC_SECRET, format!("v1:{ts}:{body}").as_bytes()));
    let signed = [("Content-Type", "application/json"), ("X-Runner-Timestamp", &ts), ("X-Runner-Signature", &sig)];
    send(server.addr, "POST", "/webhook", &signed, body.as_bytes()).status(202);
    server.get("/status", &[("Authorization", &bearer())]).status(200);
    // The authenticated bucket has its limit too.
    server.get("/status", &[("Authorization", &bearer())]).status(429);
    assert!(!pending(&t, "anon").exists());
}

#[test]
fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
    let limited = config("").replace("rate_limit = 0", "rate_limit = 2");
    let t =
        Test::new().file("runner.toml", limited.replace("[server]\n", "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n"));
    let server = Server::start(&t);
    let from = |ip: &str| server.get("/health", &[("X-Forwarded-For", ip)]);
    from("198.51.100.1").status(200);
    from("198.51.100.1").status(200);
    from("198.51.100.1").status(429);
    from("198.51.100.2").status(200);
    server.get("/health", &[("CF-Connecting-IP", "198.51.100.3")]).status(200);
    // The access log names the forwarded client beside the peer.
    let log = log_lines(&server, 5);
    assert_eq!(log[4]["remote"], "127.0.0.1", "{log:?}");
    assert_eq!(log[4]["client"], "198.51.100.3", "{log:?}");
    drop(server);
    // Not trusted (the default): the headers are anybody's to write and change nothing.
    let t = Test::new().file("runner.toml", limited.clone());
    let server = Server::start(&t);
    let from = |ip: &str| server.get("/health", &[("X-Forwarded-For", ip)]);
    from("198.51.100.1").status(200);
    from("198.51.100.2").status(200);
    from("198.51.100.3").status(429);
    assert!(log_lines(&server, 3).iter().all(|l| l.get("client").is_none()), "{}", server.stderr());
    let t = Test::new().file("runner.toml", "[server]\ntrusted_proxies = [\"10.0.0.0/33\"]\n");
    t.run(["status"]).code(2).stderr_contains("trusted_proxies");
}

#[test]
fn a_trusted_proxys_requests_count_against_their_clients_share() {
    let cfg = "trusted_proxies = [\"127.0.0.1\"]\nmax_connections_per_client = 1";
    let t = Test::new().file("runner.toml", config(cfg));
    let server = Server::start(&t);
    let body = envelope("proxied");
    // Through the proxy, client 198.51.100.7 is in the middle of sending a patch.
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = post_head(body.len(), "X-Forwarded-For: 198.51.100.7\r\nExpect: 100-continue\r\n");
    slow.write_all(head.as_bytes()).unwrap();
    assert!(read_one(&mut slow).0.starts_with("HTTP/1.1 100"), "the slow request is being read");
    // The same client on another proxy connection is over its share; another client is not.
    let r = server.get("/health", &[("X-Forwarded-For", "198.51.100.7")]).status(503);
    assert!(r.json()["error"].as_str().unwrap().contains("from this address"), "{r:?}");
    server.get("/health", &[("X-Forwarded-For", "198.51.100.8")]).status(200);
    slow.write_all(body.as_bytes()).unwrap();
    assert!(read_one(&mut slow).0.starts_with("HTTP/1.1 202"));
    // Its share is given back once that request is answered (a moment after the client reads it).
    let served = (0..100).any(|_| {
        let ok = server.get("/health", &[("X-Forwarded-For", "198.51.100.7")]).status == 200;
        if !ok {
            std::thread::sleep(Duration::from_millis(50));
        }
        ok
    });
    assert!(served, "198.51.100.7 never got its share back");
}

#[test]
fn bodies_held_at_once_are_bounded_and_past_the_budget_get_503() {
    let t = Test::new().file("runner.toml", config("max_body_bytes = 2048\nmax_body_memory = 4096"));
    let server = Server::start(&t);
    // Two posters announce 2,000 bytes each and send a few: the budget is spoken for.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(server.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(post_head(2000, "Expect: 100-continue\r\n").as_bytes()).unwrap();
        assert!(read_one(&mut s).0.starts_with("HTTP/1.1 100"), "the body is being read");
        s.write_all(b"{\"id\":").unwrap();
        held.push(s);
    }
    let padded = |id: &str| {
        let body =
            json!({ "id": id, "description": "x".repeat(1800), "operations": [{ "op": "delete", "path": "x" }] });
        body.to_string()
    };
    let r = server.post_json("/webhook", &padded("over-budget")).status(503);
    assert!(header(&r.head, "Retry-After").is_some(), "{}", r.head);
    assert!(!pending(&t, "over-budget").exists());
    // A request without a body needs none of the budget.
    server.get("/health", &[]).status(200);
    // Once a held body is done with, its bytes are free again.
    drop(held.pop());
    let mut ok = None;
    for _ in 0..100 {
        let r = server.post_json("/webhook", &padded("within-budget"));
        if r.status != 503 {
            ok = Some(r);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    ok.expect("the freed budget was never given back").status(202);
    let t = Test::new().file("runner.toml", "[server]\nmax_body_bytes = \"2MiB\"\nmax_body_memory = \"1MiB\"\n");
    t.run(["status"]).code(2).stderr_contains("max_body_memory");
}

#[test]
fn no_body_is_read_for_a_wrong_or_missing_bearer_token() {
    // A long read timeout: were the body awaited, these would not be answered in the client's 20 s.
    let t = Test::new().file("runner.toml", config("read_timeout = \"60s\""));
    let server = Server::start(&t);
    for auth in ["Authorization: Bearer wrong\r\n", "Authorization: bearer wrong\r\n", ""] {
        let head = format!(
            "POST /webhook HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nExpect: 100-continue\r\n\
             Content-Length: 1000\r\n\r\n"
        );
        let r = raw(server.addr, head.as_bytes());
        assert_eq!(r.status, 401, "{auth:?}: {r:?}");
        assert!(!r.head.contains("100 Continue"), "{auth:?}: {}", r.head);
    }
}

#[test]
fn the_bearer_scheme_is_case_insensitive() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    let auth = format!("bearer {TOKEN}");
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
    send(server.addr, "POST", "/webhook", &headers, envelope("lower").as_bytes()).status(202);
}

#[test]
fn a_numeric_id_that_is_not_a_whole_number_is_422_naming_id() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    for id in ["-1", "1e300", "1.5"] {
        let body = format!(r#"{{"id":{id},"operations":[{{"op":"write","path":"n.txt","contents":"n"}}]}}"#);
        let r = server.post_json("/webhook", &body).status(422).json();
        assert_eq!(r["field"], "id", "{id}: {r}");
    }
    assert!(!t.exists(".runner/main/patches/pending"), "nothing was queued");
}

#[test]
fn a_timestamp_2_pow_63_seconds_ago_is_refused() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    let ts = (now() - (1_i64 << 62) - (1_i64 << 62)).to_string();
    let body = envelope("ancient");
    let sig = format!("v1={}", hex_hmac(HMAC_SECRET, format!("v1:{ts}:{body}").as_bytes()));
    let headers = [("Content-Type", "application/json"), ("X-Runner-Timestamp", &ts), ("X-Runner-Signature", &sig)];
    let r = send(server.addr, "POST", "/webhook", &headers, body.as_bytes()).status(401);
    assert!(r.json()["error"].as_str().unwrap().contains("300 s"), "{r:?}");
    assert!(!pending(&t, "ancient").exists());
}

/// The first `n` access-log lines, once the listener has written them (within 10 s).
fn log_lines(server: &Server, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let lines: Vec<Value> = server.stderr().lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        if lines.len() >= n {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("fewer than {n} access-log lines: {}", server.stderr());
}

/// A signed `POST /webhook` of `body` at `ts`.
fn signed(addr: SocketAddr, ts: i64, body: &str) -> Reply {
    let ts = ts.to_string();
    let sig = format!("v1={}", hex_hmac(HMAC_SECRET, format!("v1:{ts}:{body}").as_bytes()));
    let headers = [("Content-Type", "application/json"), ("X-Runner-Timestamp", &ts), ("X-Runner-Signature", &sig)];
    send(addr, "POST", "/webhook", &headers, body.as_bytes())
}

fn queued(t: &Test) -> usize {
    std::fs::read_dir(t.join(".runner/main/patches/pending")).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn a_replayed_signed_body_without_id_is_queued_once() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    let body = r#"{"operations":[{"op":"write","path":"r.txt","contents":"r\n"}]}"#;
    let ts = now();
    let first = signed(server.addr, ts, body).status(202).json();
    let id = first["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("sha256-"), "{first}");
    // The very same request again, and the same body signed anew: the same patch, queued once.
    let replay = signed(server.addr, ts, body).status(200).json();
    assert_eq!((replay["id"].as_str(), replay["state"].as_str()), (Some(id.as_str()), Some("pending")));
    signed(server.addr, ts + 1, body).status(200);
    assert_eq!(queued(&t), 1);
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(pending(&t, &id)).unwrap()).unwrap();
    assert_eq!(stored["id"], id.as_str());
    // Bearer posts have no replay to fear: an id-less one is a new patch each time.
    let a = server.post_json("/webhook", body).status(202).json();
    let b = server.post_json("/webhook", body).status(202).json();
    assert_ne!(a["id"], b["id"]);
}

#[test]
fn a_replayed_signature_spelled_another_way_is_no_new_signature() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    let body = envelope("respelled");
    // A timestamp whose signature has a byte written `0x`, which a lax decoder also reads as `+x`.
    let (ts, hex) = (now() - 60..=now())
        .rev()
        .map(|ts| (ts, hex_hmac(HMAC_SECRET, format!("v1:{ts}:{body}").as_bytes())))
        .find(|(_, hex)| hex.as_bytes().chunks(2).any(|pair| pair[0] == b'0'))
        .unwrap();
    signed(server.addr, ts, &body).status(202);
    // The patch leaves the queue, so only the signature memory stands in a replay's way.
    std::fs::remove_file(pending(&t, "respelled")).unwrap();
    let at = hex.as_bytes().chunks(2).position(|pair| pair[0] == b'0').unwrap() * 2;
    let post = |hex: &str| {
        let (ts, sig) = (ts.to_string(), format!("v1={hex}"));
        let headers = [("Content-Type", "application/json"), ("X-Runner-Timestamp", &ts), ("X-Runner-Signature", &sig)];
        send(server.addr, "POST", "/webhook", &headers, body.as_bytes())
    };
    post(&format!("{}+{}", &hex[..at], &hex[at + 1..])).status(401);
    post(&hex.to_ascii_uppercase()).status(200);
    assert!(!pending(&t, "respelled").exists(), "a replay queued the patch again");
}

#[test]
fn a_replayed_signature_queues_nothing_even_after_a_restart() {
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    let ts = now();
    let body = envelope("once");
    signed(server.addr, ts, &body).status(202);
    assert!(t.exists(".runner/state/signatures.json"));
    // The patch leaves the queue (an operator cleans up); the listener restarts.
    std::fs::remove_file(pending(&t, "once")).unwrap();
    drop(server);
    let server = Server::start(&t);
    // The replay is remembered: answered, and not queued a second time.
    let replay = signed(server.addr, ts, &body).status(200).json();
    assert_eq!(
        replay,
        json!({ "id": "once", "env": "main", "state": null, "url": format!("http://{}/patches/once", server.addr) })
    );
    assert!(!pending(&t, "once").exists(), "the replay queued the patch again");
    // A GitHub-style body re-sent under a new delivery id is the same signature.
    let gh = envelope("gh-once");
    let sig = format!("sha256={}", hex_hmac(HMAC_SECRET, gh.as_bytes()));
    let post = |delivery: &str| {
        let headers = [
            ("Content-Type", "application/json"),
            ("X-Hub-Signature-256", sig.as_str()),
            ("X-GitHub-Delivery", delivery),
        ];
        send(server.addr, "POST", "/webhook", &headers, gh.as_bytes())
    };
    post("d-1").status(202);
    std::fs::remove_file(pending(&t, "gh-once")).unwrap();
    post("d-2").status(200);
    assert!(!pending(&t, "gh-once").exists(), "a new delivery id re-queued the same signed body");
}

#[test]
fn a_replayed_slack_command_runs_once_even_after_a_restart() {
    use crate::slack::form;
    let t = Test::new().file("runner.toml", config(""));
    let server = Server::start(&t);
    let (body, ts) = (form("/toggle-runner", "", "U1"), now());
    post_slack(&server, "/slack/commands", &body, ts, SLACK_SECRET).status(200);
    assert_eq!(t.read(".runner/state/mode").trim(), "paused");
    // The same signed request again would toggle the mode back.
    let replay = post_slack(&server, "/slack/commands", &body, ts, SLACK_SECRET).status(200).json();
    assert!(replay["text"].as_str().unwrap().contains("already run"), "{replay}");
    assert_eq!(t.read(".runner/state/mode").trim(), "paused");
    drop(server);
    let server = Server::start(&t);
    post_slack(&server, "/slack/commands", &body, ts, SLACK_SECRET).status(200);
    assert_eq!(t.read(".runner/state/mode").trim(), "paused", "a restart forgot the signature");
    // The same command sent anew (another signature) runs.
    post_slack(&server, "/slack/commands", &body, ts + 1, SLACK_SECRET).status(200);
    assert_eq!(t.read(".runner/state/mode").trim(), "auto");
}
