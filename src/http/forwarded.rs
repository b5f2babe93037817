//! Which address a request comes from, for the rate limit and the per-client connection share.
//! Behind a tunnel every peer is the tunnel (often 127.0.0.1), so the client is what the tunnel
//! says in `CF-Connecting-IP` or `X-Forwarded-For`. Anyone can send those headers, so they are
//! believed only from a peer in `server.trusted_proxies`; from any other peer the client is the
//! peer itself. The same goes for the address the client reached (`X-Forwarded-Proto`,
//! `X-Forwarded-Host`), which the OpenAPI document names as its server.

use std::net::IpAddr;

use crate::config::net::IpNet;
use crate::http::wire::Request;

pub(crate) fn is_trusted(trusted: &[IpNet], peer: IpAddr) -> bool {
    trusted.iter().any(|net| net.contains(peer))
}

/// The client a request is from. From a trusted peer: `CF-Connecting-IP`, else the nearest
/// address in `X-Forwarded-For` that is not itself a trusted proxy (the ones to its left were
/// written by whoever the client is, and prove nothing); anything unreadable stops the walk.
pub(crate) fn client_of(req: &Request, trusted: &[IpNet]) -> IpAddr {
    if !is_trusted(trusted, req.remote) {
        return req.remote;
    }
    if let Some(ip) = req.header("cf-connecting-ip").and_then(|v| v.trim().parse().ok()) {
        return ip;
    }
    let hops: Vec<&str> = req.header_all("x-forwarded-for").flat_map(|v| v.split(',')).collect();
    let mut client = req.remote;
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else { break };
        client = ip;
        if !is_trusted(trusted, ip) {
            break;
        }
    }
    client
}

/// The base URL a trusted proxy says the client reached, from `X-Forwarded-Proto` (http or
/// https) and `X-Forwarded-Host`, else `Host`. `None` from any other peer, or for a host that is
/// not a plain `name[:port]`.
pub(crate) fn base_url(req: &Request, trusted: &[IpNet]) -> Option<String> {
    if !is_trusted(trusted, req.remote) {
        return None;
    }
    let proto = req.header("x-forwarded-proto")?.split(',').next()?.trim().to_ascii_lowercase();
    let host = req.header("x-forwarded-host").or_else(|| req.header("host"))?.split(',').next()?.trim();
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    (matches!(proto.as_str(), "http" | "https") && !host.is_empty() && host.chars().all(plain))
        .then(|| format!("{proto}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(remote: &str, headers: &[(&str, &str)]) -> Request {
        Request::for_test("GET", "/", remote.parse().unwrap(), headers)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let r = req("203.0.113.5", &[("cf-connecting-ip", "198.51.100.1"), ("x-forwarded-for", "198.51.100.2")]);
        assert_eq!(client_of(&r, &[]), ip("203.0.113.5"));
        assert_eq!(client_of(&r, &["127.0.0.1".parse().unwrap()]), ip("203.0.113.5"));
    }

    #[test]
    fn a_trusted_peer_names_the_client() {
        let trusted: Vec<IpNet> = vec!["127.0.0.1".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        let cf = req("127.0.0.1", &[("cf-connecting-ip", "198.51.100.1"), ("x-forwarded-for", "198.51.100.2")]);
        assert_eq!(client_of(&cf, &trusted), ip("198.51.100.1"));
        // The client wrote the leftmost hop itself; the nearest untrusted one is who reached us.
        let chain = req("127.0.0.1", &[("x-forwarded-for", "6.6.6.6, 198.51.100.2, 10.1.1.1")]);
        assert_eq!(client_of(&chain, &trusted), ip("198.51.100.2"));
        let split = req("127.0.0.1", &[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "198.51.100.3")]);
        assert_eq!(client_of(&split, &trusted), ip("198.51.100.3"));
        let garbage = req("127.0.0.1", &[("x-forwarded-for", "6.6.6.6, not-an-ip"), ("cf-connecting-ip", "x")]);
        assert_eq!(client_of(&garbage, &trusted), ip("127.0.0.1"));
        assert_eq!(client_of(&req("127.0.0.1", &[]), &trusted), ip("127.0.0.1"), "a local client without headers");
    }

    #[test]
    fn the_base_url_is_believed_from_a_trusted_proxy_only() {
        let trusted: Vec<IpNet> = vec!["127.0.0.1".parse().unwrap()];
        let tunnel =
            [("x-forwarded-proto", "https"), ("x-forwarded-host", "runner.example.com"), ("host", "127.0.0.1")];
        assert_eq!(base_url(&req("127.0.0.1", &tunnel), &trusted).as_deref(), Some("https://runner.example.com"));
        let host_only = [("x-forwarded-proto", "https"), ("host", "gpt.example.com:8443")];
        assert_eq!(base_url(&req("127.0.0.1", &host_only), &trusted).as_deref(), Some("https://gpt.example.com:8443"));
        assert_eq!(base_url(&req("10.0.0.9", &tunnel), &trusted), None, "an untrusted peer says nothing");
        let hostile = [("x-forwarded-proto", "javascript"), ("host", "x")];
        assert_eq!(base_url(&req("127.0.0.1", &hostile), &trusted), None);
        let injected = [("x-forwarded-proto", "https"), ("host", "evil.example/\"x")];
        assert_eq!(base_url(&req("127.0.0.1", &injected), &trusted), None);
        assert_eq!(base_url(&req("127.0.0.1", &[("host", "a")]), &trusted), None, "no proto, no claim");
    }
}
