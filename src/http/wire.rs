//! Just enough HTTP/1.1 for this listener, on a blocking `TcpStream`: read one request with a
//! header limit, a body limit and one deadline for the whole request; write one response.
//!
//! Why not tiny_http: it reads header lines without any size limit, spawns an unbounded thread
//! per connection, never sets a socket timeout and offers no hook to set one on the sockets it
//! accepts, and reads bodies in the worker that called `recv`. A client that stalls would hold
//! a worker, and one that streams headers forever would grow memory. Here every read has a
//! deadline, heads and bodies are bounded before they are buffered, and each connection has its
//! own (capped) thread, so a stalled client holds only itself.

use std::io::{self, Read, Write};
use std::net::{IpAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often an idle keep-alive connection looks at the stop flag.
const IDLE_TICK: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_header: usize,
    pub max_body: usize,
    /// From a request's first byte to its last, and the longest a keep-alive connection idles.
    pub timeout: Duration,
}

#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The path without the query string.
    pub path: String,
    pub query: String,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub remote: IpAddr,
    pub keep_alive: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A query parameter, undecoded (ids and env names need no decoding).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
    }
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response { status, content_type, headers: Vec::new(), body: body.into() }
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        let mut body = serde_json::to_vec(value).unwrap_or_default();
        body.push(b'\n');
        Response::new(status, "application/json", body)
    }

    /// The error shape every route uses: `{"error": "...", "field": "..."}`.
    pub fn error(status: u16, error: impl Into<String>, field: Option<&str>) -> Response {
        let mut value = serde_json::json!({ "error": error.into() });
        if let Some(field) = field {
            value["field"] = field.into();
        }
        Response::json(status, &value)
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }
}

/// Why no request could be read. `response` says what to answer before closing, if anything.
#[derive(Debug)]
pub struct ReadError {
    pub response: Option<Response>,
}

impl ReadError {
    fn closed() -> ReadError {
        ReadError { response: None }
    }
    fn answer(status: u16, message: &str) -> ReadError {
        ReadError { response: Some(Response::error(status, message, None)) }
    }
}

/// One client connection and the bytes read past the end of the last request.
pub struct Conn {
    stream: TcpStream,
    pub remote: IpAddr,
    buf: Vec<u8>,
}

impl Conn {
    pub fn new(stream: TcpStream, remote: IpAddr) -> Conn {
        Conn { stream, remote, buf: Vec::new() }
    }

    /// Read the next request. `Err` with no response: the client left, idled out, or we are stopping.
    pub fn read_request(&mut self, limits: &Limits, stop: &AtomicBool) -> Result<Request, ReadError> {
        let started = self.wait_for_first_byte(limits.timeout, stop)?;
        let deadline = started + limits.timeout;
        let head_end = loop {
            if let Some(end) = find_head_end(&self.buf) {
                break end;
            }
            if self.buf.len() > limits.max_header {
                return Err(ReadError::answer(431, "request headers are too large"));
            }
            self.fill(deadline)?;
        };
        if head_end > limits.max_header {
            return Err(ReadError::answer(431, "request headers are too large"));
        }
        let head = std::str::from_utf8(&self.buf[..head_end])
            .map_err(|_| ReadError::answer(400, "request head is not valid UTF-8"))?;
        let mut req = parse_head(head, self.remote)?;
        let length = content_length(&req)?;
        if length > limits.max_body {
            return Err(ReadError::answer(
                413,
                &format!("body of {length} bytes is over the limit of {} bytes", limits.max_body),
            ));
        }
        self.buf.drain(..head_end + 4);
        if length > self.buf.len() && req.header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
            self.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").map_err(|_| ReadError::closed())?;
        }
        while self.buf.len() < length {
            self.fill(deadline)?;
        }
        req.body = self.buf.drain(..length).collect();
        Ok(req)
    }

    /// Block until a byte is buffered, looking at `stop` between short waits.
    fn wait_for_first_byte(&mut self, idle: Duration, stop: &AtomicBool) -> Result<Instant, ReadError> {
        let idle_until = Instant::now() + idle;
        while self.buf.is_empty() {
            if stop.load(Ordering::Relaxed) || Instant::now() >= idle_until {
                return Err(ReadError::closed());
            }
            match self.read_some(IDLE_TICK) {
                Ok(0) => return Err(ReadError::closed()),
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {}
                Err(_) => return Err(ReadError::closed()),
            }
        }
        Ok(Instant::now())
    }

    /// Read more bytes before `deadline`, or answer 408.
    fn fill(&mut self, deadline: Instant) -> Result<(), ReadError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadError::answer(408, "request not received in time"));
        }
        match self.read_some(left) {
            Ok(0) => Err(ReadError::closed()),
            Ok(_) => Ok(()),
            Err(e) if is_timeout(&e) => Err(ReadError::answer(408, "request not received in time")),
            Err(_) => Err(ReadError::closed()),
        }
    }

    fn read_some(&mut self, timeout: Duration) -> io::Result<usize> {
        self.stream.set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Write a whole response in one go.
    pub fn send(&mut self, res: &Response, keep_alive: bool) -> io::Result<()> {
        let mut out = Vec::with_capacity(160 + res.body.len());
        let _ = write!(
            out,
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n",
            res.status,
            reason(res.status),
            res.content_type,
            res.body.len(),
            if keep_alive { "keep-alive" } else { "close" }
        );
        for (name, value) in &res.headers {
            let _ = write!(out, "{name}: {value}\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&res.body);
        self.stream.write_all(&out)
    }

    pub fn set_write_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.stream.set_write_timeout(Some(timeout))
    }

    /// Close after an error answer without resetting the connection: stop writing, then read
    /// and drop what the client is still sending for a moment, so it gets to read the answer.
    pub fn linger(mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        let until = Instant::now() + Duration::from_secs(1);
        let mut chunk = [0u8; 16 * 1024];
        while Instant::now() < until {
            let _ = self.stream.set_read_timeout(Some(Duration::from_millis(100)));
            match self.stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {}
                Err(_) => break,
            }
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

fn parse_head(head: &str, remote: IpAddr) -> Result<Request, ReadError> {
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::answer(400, "malformed request line"));
    };
    if !matches!(version, "HTTP/1.1" | "HTTP/1.0") || method.is_empty() || !target.starts_with('/') {
        return Err(ReadError::answer(400, "malformed request line"));
    }
    let mut headers = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(ReadError::answer(400, "malformed header line"));
        };
        if name.is_empty() || name.contains([' ', '\t']) {
            return Err(ReadError::answer(400, "malformed header name"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut req = Request {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body: Vec::new(),
        remote,
        keep_alive: false,
    };
    let connection = req.header("connection").map(str::to_ascii_lowercase).unwrap_or_default();
    req.keep_alive = match version {
        "HTTP/1.1" => !connection.contains("close"),
        _ => connection.contains("keep-alive"),
    };
    Ok(req)
}

fn content_length(req: &Request) -> Result<usize, ReadError> {
    if req.header("transfer-encoding").is_some() {
        return Err(ReadError::answer(411, "chunked bodies are not accepted: send Content-Length"));
    }
    let mut lengths = req.headers.iter().filter(|(k, _)| k == "content-length").map(|(_, v)| v);
    let Some(first) = lengths.next() else { return Ok(0) };
    if lengths.any(|v| v != first) {
        return Err(ReadError::answer(400, "conflicting Content-Length headers"));
    }
    first.parse().map_err(|_| ReadError::answer(400, "invalid Content-Length"))
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        202 => "Accepted",
        303 => "See Other",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Result<Request, ReadError> {
        parse_head(text, IpAddr::from([127, 0, 0, 1]))
    }

    #[test]
    fn parses_request_line_headers_and_query() {
        let req = head("POST /patches/a?env=main HTTP/1.1\r\nHost: x\r\nContent-Length: 3").unwrap();
        assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/patches/a"));
        assert_eq!(req.query_param("env"), Some("main"));
        assert_eq!(req.header("content-length"), Some("3"));
        assert!(req.keep_alive);
        assert_eq!(content_length(&req).unwrap(), 3);
        assert!(!head("GET / HTTP/1.0").unwrap().keep_alive);
        assert!(!head("GET / HTTP/1.1\r\nConnection: close").unwrap().keep_alive);
    }

    #[test]
    fn refuses_malformed_heads() {
        for bad in ["GET /", "GET / HTTP/2.0", "GET x HTTP/1.1", "GET / HTTP/1.1\r\nno colon", "GET  / HTTP/1.1"] {
            let err = head(bad).unwrap_err();
            assert_eq!(err.response.unwrap().status, 400, "{bad}");
        }
        let req = head("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2").unwrap();
        assert_eq!(content_length(&req).unwrap_err().response.unwrap().status, 400);
        let req = head("POST / HTTP/1.1\r\nTransfer-Encoding: chunked").unwrap();
        assert_eq!(content_length(&req).unwrap_err().response.unwrap().status, 411);
    }
}
