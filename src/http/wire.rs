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
/// Most header lines in one request; past it, 431.
const MAX_HEADERS: usize = 100;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_header: usize,
    pub max_body: usize,
    /// From a request's first byte to its last, and the longest a keep-alive connection idles.
    pub timeout: Duration,
}

#[derive(Debug)]
pub(crate) struct Request {
    pub method: String,
    /// The path without the query string.
    pub path: String,
    pub query: String,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The peer the connection comes from.
    pub remote: IpAddr,
    /// Who the request is from: `remote`, or the address a trusted proxy forwarded.
    pub client: IpAddr,
    pub keep_alive: bool,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of a header that may be repeated, in order.
    pub(crate) fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A query parameter, undecoded (ids and env names need no decoding).
    pub(crate) fn query_param(&self, name: &str) -> Option<&str> {
        self.query.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
    }

    /// A bodiless request from `remote` with these headers (names lower-case), for unit tests.
    #[cfg(test)]
    pub(crate) fn for_test(method: &str, path: &str, remote: IpAddr, headers: &[(&str, &str)]) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            query: String::new(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: Vec::new(),
            remote,
            client: remote,
            keep_alive: true,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub(crate) fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response { status, content_type, headers: Vec::new(), body: body.into() }
    }

    pub(crate) fn json(status: u16, value: &serde_json::Value) -> Response {
        let mut body = serde_json::to_vec(value).unwrap_or_default();
        body.push(b'\n');
        Response::new(status, "application/json", body)
    }

    /// The error shape every route uses: `{"error": "...", "field": "..."}`.
    pub(crate) fn error(status: u16, error: impl Into<String>, field: Option<&str>) -> Response {
        let mut value = serde_json::json!({ "error": error.into() });
        if let Some(field) = field {
            value["field"] = field.into();
        }
        Response::json(status, &value)
    }

    pub(crate) fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }
}

/// Why no request could be read. `response` says what to answer before closing, if anything.
#[derive(Debug)]
pub(crate) struct ReadError {
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

/// A request whose head has been read and whose body has not: the listener decides, from the
/// head alone, whether the body is worth reading (credentials, the body memory budget).
#[derive(Debug)]
pub(crate) struct Incoming {
    pub req: Request,
    length: usize,
    deadline: Instant,
}

impl Incoming {
    /// The body's length, as `Content-Length` announced it (within `max_body`).
    pub(crate) fn body_length(&self) -> usize {
        self.length
    }
}

/// One client connection and the bytes read past the end of the last request.
pub(crate) struct Conn {
    stream: TcpStream,
    pub remote: IpAddr,
    buf: Vec<u8>,
}

impl Conn {
    pub(crate) fn new(stream: TcpStream, remote: IpAddr) -> Conn {
        Conn { stream, remote, buf: Vec::new() }
    }

    /// Read the next request's head. `Err` with no response: the client left, idled out, or we
    /// are stopping.
    pub(crate) fn read_head(&mut self, limits: &Limits, stop: &AtomicBool) -> Result<Incoming, ReadError> {
        let started = self.wait_for_first_byte(limits.timeout, stop)?;
        let deadline = started + limits.timeout;
        let head_end = loop {
            if let Some(end) = head_end(&self.buf[..self.buf.len().min(limits.max_header + 4)])? {
                break end;
            }
            if self.buf.len() > limits.max_header {
                return Err(ReadError::answer(431, "request headers are too large"));
            }
            self.fill(deadline)?;
        };
        if head_end > limits.max_header + 4 {
            return Err(ReadError::answer(431, "request headers are too large"));
        }
        let req = parse_head(&self.buf[..head_end], self.remote)?;
        let length = content_length(&req)?;
        if length > limits.max_body {
            return Err(ReadError::answer(
                413,
                &format!("body of {length} bytes is over the limit of {} bytes", limits.max_body),
            ));
        }
        self.buf.drain(..head_end);
        Ok(Incoming { req, length, deadline })
    }

    /// Read the body the head announced, before the same deadline.
    pub(crate) fn read_body(&mut self, incoming: Incoming) -> Result<Request, ReadError> {
        let Incoming { mut req, length, deadline } = incoming;
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

    /// One read of whatever has arrived. A signal landing on this thread interrupts a read with
    /// a timeout (EINTR, whatever SA_RESTART says): that is no news from the client, so read again.
    fn read_some(&mut self, timeout: Duration) -> io::Result<usize> {
        self.stream.set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        let mut chunk = [0u8; 16 * 1024];
        let n = loop {
            match self.stream.read(&mut chunk) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Write a whole response in one go.
    pub(crate) fn send(&mut self, res: &Response, keep_alive: bool) -> io::Result<()> {
        self.write_response(res, keep_alive, true)
    }

    /// The answer to `HEAD`: the head `send` would write, with the same `Content-Length`, and
    /// no body (a client reads none, so one sent would be taken for the next response).
    pub(crate) fn send_head(&mut self, res: &Response, keep_alive: bool) -> io::Result<()> {
        self.write_response(res, keep_alive, false)
    }

    fn write_response(&mut self, res: &Response, keep_alive: bool, with_body: bool) -> io::Result<()> {
        let mut out = Vec::with_capacity(200 + res.body.len());
        let _ = write!(
            out,
            "HTTP/1.1 {} {}\r\nDate: {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n",
            res.status,
            reason(res.status),
            http_date(chrono::Utc::now()),
            res.content_type,
            res.body.len(),
            if keep_alive { "keep-alive" } else { "close" }
        );
        for (name, value) in &res.headers {
            let _ = write!(out, "{name}: {value}\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if with_body {
            out.extend_from_slice(&res.body);
        }
        self.stream.write_all(&out)
    }

    pub(crate) fn set_write_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.stream.set_write_timeout(Some(timeout))
    }

    /// Close after an error answer without resetting the connection: stop writing, then read
    /// and drop what the client is still sending for a moment, so it gets to read the answer.
    pub(crate) fn linger(mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        let until = Instant::now() + Duration::from_secs(1);
        let mut chunk = [0u8; 16 * 1024];
        while Instant::now() < until {
            let _ = self.stream.set_read_timeout(Some(Duration::from_millis(100)));
            match self.stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// `Date`'s IMF-fixdate (RFC 9110 §5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`.
fn http_date(now: chrono::DateTime<chrono::Utc>) -> String {
    now.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Where the head ends (just past its blank line), once it has. Every line must end in CRLF:
/// a bare LF is refused, because a proxy that ends lines only at CRLF would read a header
/// hidden behind one as part of another's value, and so see another request than we do.
fn head_end(buf: &[u8]) -> Result<Option<usize>, ReadError> {
    let mut from = 0;
    while let Some(at) = memchr::memchr(b'\n', &buf[from..]).map(|i| from + i) {
        if at == 0 || buf[at - 1] != b'\r' {
            return Err(ReadError::answer(
                400,
                "a line in the request head ends in a bare LF: end every line with CRLF",
            ));
        }
        if at >= 3 && &buf[at - 3..at - 1] == b"\r\n" {
            return Ok(Some(at + 1));
        }
        from = at + 1;
    }
    Ok(None)
}

/// Parse a complete head (request line, header lines, blank line) with `httparse`, which
/// refuses header names that are not tokens, control bytes in values, obsolete line folding
/// and malformed request lines; then apply what it leaves to us: the target is a path, values
/// are UTF-8, an HTTP/1.1 request names one Host, and `Connection` is a list of tokens.
fn parse_head(head: &[u8], remote: IpAddr) -> Result<Request, ReadError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut slots);
    match parsed.parse(head) {
        Ok(httparse::Status::Complete(n)) if n == head.len() => {}
        Ok(_) => return Err(ReadError::answer(400, "malformed request line")),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(ReadError::answer(431, &format!("more than {MAX_HEADERS} header lines")));
        }
        Err(httparse::Error::HeaderName) => {
            return Err(ReadError::answer(
                400,
                "malformed header name: names are tokens (letters, digits, !#$%&'*+-.^_`|~)",
            ));
        }
        Err(httparse::Error::HeaderValue) => {
            return Err(ReadError::answer(400, "a header value holds a control character"));
        }
        Err(_) => return Err(ReadError::answer(400, "malformed request head")),
    }
    let (Some(method), Some(target), Some(minor)) = (parsed.method, parsed.path, parsed.version) else {
        return Err(ReadError::answer(400, "malformed request line"));
    };
    if !target.starts_with('/') {
        return Err(ReadError::answer(400, "malformed request line: the target must be a path"));
    }
    let mut headers = Vec::with_capacity(parsed.headers.len());
    for h in parsed.headers.iter() {
        let value = std::str::from_utf8(h.value)
            .map_err(|_| ReadError::answer(400, &format!("the {} header is not valid UTF-8", h.name)))?;
        headers.push((h.name.to_ascii_lowercase(), value.trim_matches([' ', '\t']).to_string()));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut req = Request {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body: Vec::new(),
        remote,
        client: remote,
        keep_alive: false,
    };
    if minor == 1 && req.header_all("host").count() != 1 {
        return Err(ReadError::answer(400, "an HTTP/1.1 request must carry exactly one Host header"));
    }
    let option = |name: &str| {
        req.header_all("connection").flat_map(|v| v.split(',')).any(|t| t.trim().eq_ignore_ascii_case(name))
    };
    req.keep_alive = if minor == 1 { !option("close") } else { option("keep-alive") };
    Ok(req)
}

/// The body length: `Content-Length` as 1*DIGIT (no sign, no list), the same in every copy.
/// No `Transfer-Encoding`: a body must say its length up front, so it can be refused unread.
fn content_length(req: &Request) -> Result<usize, ReadError> {
    if req.header("transfer-encoding").is_some() {
        return Err(ReadError::answer(411, "chunked bodies are not accepted: send Content-Length"));
    }
    let mut lengths = req.header_all("content-length");
    let Some(first) = lengths.next() else { return Ok(0) };
    if lengths.any(|v| v != first) {
        return Err(ReadError::answer(400, "conflicting Content-Length headers"));
    }
    if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ReadError::answer(400, "invalid Content-Length: it must be a number of bytes, digits only"));
    }
    // All digits: too many of them to count is too large, not malformed.
    Ok(first.parse().unwrap_or(usize::MAX))
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
        parse_head(format!("{text}\r\n\r\n").as_bytes(), IpAddr::from([127, 0, 0, 1]))
    }

    fn status(result: Result<impl std::fmt::Debug, ReadError>) -> u16 {
        result.unwrap_err().response.unwrap().status
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
        assert!(head("GET / HTTP/1.0\r\nConnection: Keep-Alive").unwrap().keep_alive);
        assert!(!head("GET / HTTP/1.1\r\nHost: x\r\nConnection: close").unwrap().keep_alive);
        assert!(!head("GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade, Close").unwrap().keep_alive);
    }

    #[test]
    fn connection_is_a_token_list_not_a_substring() {
        assert!(head("GET / HTTP/1.1\r\nHost: x\r\nConnection: x-enclosed").unwrap().keep_alive);
        assert!(!head("GET / HTTP/1.0\r\nConnection: not-keep-alive").unwrap().keep_alive);
        assert!(!head("GET / HTTP/1.1\r\nHost: x\r\nConnection: te\r\nConnection: close").unwrap().keep_alive);
    }

    #[test]
    fn refuses_malformed_heads() {
        for bad in
            ["GET /", "GET / HTTP/2.0", "GET x HTTP/1.1\r\nHost: x", "GET / HTTP/1.1\r\nno colon", "GET  / HTTP/1.1"]
        {
            assert_eq!(status(head(bad)), 400, "{bad}");
        }
        let req = head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2").unwrap();
        assert_eq!(status(content_length(&req)), 400);
        let req = head("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked").unwrap();
        assert_eq!(status(content_length(&req)), 411);
    }

    #[test]
    fn content_length_is_digits_only() {
        for bad in ["+3", "-3", " ", "3 4", "0x10", "3,3", "1e3"] {
            let req = head(&format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {bad}")).unwrap();
            assert_eq!(status(content_length(&req)), 400, "{bad:?}");
        }
        let req = head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999").unwrap();
        assert_eq!(content_length(&req).unwrap(), usize::MAX, "too large, refused as 413 by the caller");
        let req = head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 007").unwrap();
        assert_eq!(content_length(&req).unwrap(), 7);
    }

    #[test]
    fn refuses_control_bytes_and_names_that_are_not_tokens() {
        for bad in [
            "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b",
            "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb",
            "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb",
            "GET / HTTP/1.1\r\nHost: x\r\nX A: b",
            "GET / HTTP/1.1\r\nHost: x\r\nX(A): b",
            "GET / HTTP/1.1\r\nHost: x\r\nX-A : b",
            "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b",
        ] {
            assert_eq!(status(head(bad)), 400, "{bad:?}");
        }
        assert_eq!(head("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\tb").unwrap().header("x-a"), Some("a\tb"));
    }

    #[test]
    fn http_1_1_needs_exactly_one_host() {
        assert_eq!(status(head("GET / HTTP/1.1")), 400);
        assert_eq!(status(head("GET / HTTP/1.1\r\nHost: a\r\nHost: b")), 400);
        assert!(head("GET / HTTP/1.0").is_ok(), "HTTP/1.0 has no Host");
    }

    #[test]
    fn the_head_ends_at_crlf_crlf_and_a_bare_lf_is_refused() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody\n").unwrap(), Some(27));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap(), None);
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r").unwrap(), None);
        for bad in [&b"GET / HTTP/1.1\nHost: x\r\n\r\n"[..], b"GET / HTTP/1.1\r\nX-A: a\nX-B: b\r\n\r\n", b"\n"] {
            assert_eq!(status(head_end(bad)), 400, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn dates_are_imf_fixdate() {
        let t = chrono::DateTime::parse_from_rfc3339("1994-11-06T08:49:37Z").unwrap().with_timezone(&chrono::Utc);
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
    }

    /// A signal delivered to a connection thread blocked in a read must not end the request.
    #[test]
    fn a_read_interrupted_by_a_signal_is_retried() {
        extern "C" fn ignore(_: libc::c_int) {}
        // SAFETY: a zeroed sigaction is "no flags, empty mask"; the handler does nothing. No
        // SA_RESTART, so the blocked read fails with EINTR, as it does under serve-webhook's
        // SIGTERM handler.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = ignore as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            assert_eq!(libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()), 0);
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, peer) = listener.accept().unwrap();
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let reader = std::thread::spawn(move || {
            // SAFETY: pthread_self has no preconditions.
            tid_tx.send(unsafe { libc::pthread_self() }).unwrap();
            let limits = Limits { max_header: 1024, max_body: 1024, timeout: Duration::from_secs(20) };
            let mut conn = Conn::new(server, peer.ip());
            let read = conn.read_head(&limits, &AtomicBool::new(false)).and_then(|i| conn.read_body(i));
            // Stay alive until the signals stop, so none is sent to a thread that has gone.
            let _ = done_rx.recv();
            read.map(|req| (req.path, req.body))
        });
        let tid = tid_rx.recv().unwrap();
        let interrupt = || {
            for _ in 0..10 {
                // SAFETY: `tid` is the reader thread, alive until `done_tx` sends.
                assert_eq!(unsafe { libc::pthread_kill(tid, libc::SIGUSR1) }, 0);
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        interrupt(); // while waiting for the first byte
        client.write_all(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n").unwrap();
        interrupt(); // in the middle of the head
        client.write_all(b"\r\nh").unwrap();
        interrupt(); // in the middle of the body
        client.write_all(b"i").unwrap();
        done_tx.send(()).unwrap();
        let read = reader.join().unwrap();
        assert_eq!(read.map_err(|e| e.response).unwrap(), ("/a".to_string(), b"hi".to_vec()));
    }
}
