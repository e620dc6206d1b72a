//! `webseed-load`: HTTP/1.1 load generator for WebSeed (BEP 19) servers, like wrk (does I/O).
//!
//! Every connection keeps one request in flight and sends what a browser running WebTorrent sends:
//! random single closed ranges (`Range: bytes=a-b`), aligned to `--align`, with `Cache-Control:
//! no-store`, an `Origin`, and optionally a CORS preflight (`OPTIONS`) before every GET, as
//! Chromium does for `fetch(..., {cache: 'no-store'})`.
//!
//! The client is written directly on tokio's `TcpStream`: the request bytes are built by hand, and
//! a minimal parser reads the status line and headers, finds `Content-Length` and then reads
//! exactly that many body bytes. Every response is checked (status 206, `Content-Range` equal to
//! the request, body length, `Access-Control-Allow-Origin`, and optionally the body bytes against
//! a local copy of the file); anything else is counted as an error of its kind.
//!
//! Only loopback targets are accepted: this tool is for measuring a server on the same machine.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

/// The `Origin` every request carries (a page served from another origin than the webseed).
const ORIGIN: &str = "http://127.0.0.1:1";
/// Size of the per-connection read buffer (headers and body chunks).
const BUF_SIZE: usize = 128 * 1024;
/// Pause after a failed connect, so a dead server does not turn the client into a busy loop.
const CONNECT_BACKOFF: Duration = Duration::from_millis(50);

#[derive(Parser, Debug)]
#[command(
    name = "webseed-load",
    version,
    about = "HTTP/1.1 range-request load generator for WebSeed servers (loopback targets only)"
)]
struct Args {
    /// Target URL, `http://127.0.0.1:PORT/path`; the path is sent as given (percent-encoded).
    #[arg(long)]
    url: String,
    /// Number of keep-alive connections, each with one request in flight.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Worker threads of the tokio multi-thread runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Length of the run in seconds; the run stops by itself at the end.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Length of each requested range in bytes (shorter only if the file is smaller).
    #[arg(long, default_value_t = 16384)]
    range_size: u64,
    /// Size of the file in bytes; without it, a HEAD request reads `Content-Length`.
    #[arg(long)]
    file_size: Option<u64>,
    /// Range starts are random multiples of this many bytes.
    #[arg(long, default_value_t = 16384)]
    align: u64,
    /// Browser mix: send a CORS preflight (OPTIONS) on the same connection before every GET.
    #[arg(long)]
    preflight: bool,
    /// Seed of the range generator (each connection derives its own stream from it).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print one JSON object instead of the human-readable table.
    #[arg(long)]
    json: bool,
    /// Free-form name of the run, echoed in the report.
    #[arg(long, default_value = "")]
    label: String,
    /// Compare every body with this local copy of the file (costs CPU: correctness runs only).
    #[arg(long)]
    verify_file: Option<PathBuf>,
    /// Exit with status 1 if any error was counted (or no GET completed).
    #[arg(long)]
    fail_on_error: bool,
    /// Seconds one exchange (connect, or request and full response) may take before it counts
    /// as a timeout and the connection is dropped.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
}

// ---------------------------------------------------------------------------------------------
// Target URL


fn parse_url(url: &str) -> Result<Target> {
    let rest = url.strip_prefix("http://").context("only plain http:// URLs are supported")?;
    parse_loopback(rest, 80)
}

// ---------------------------------------------------------------------------------------------
// Random ranges

use vidseed_loadtest::rng::Rng;
use vidseed_loadtest::target::{parse_loopback, Target};

#[derive(Clone, Copy)]
struct RangePlan {
    file_size: u64,
    range_size: u64,
    align: u64,
    /// Number of aligned starts at which a full-length range still fits.
    starts: u64,
}

impl RangePlan {
    fn new(file_size: u64, range_size: u64, align: u64) -> Self {
        let starts = file_size.saturating_sub(range_size) / align + 1;
        RangePlan {
            file_size,
            range_size,
            align,
            starts,
        }
    }

    /// A random closed range `(first, last)`.
    fn pick(&self, rng: &mut Rng) -> (u64, u64) {
        let first = rng.below(self.starts) * self.align;
        let last = first.saturating_add(self.range_size).min(self.file_size) - 1;
        (first, last)
    }
}

// ---------------------------------------------------------------------------------------------
// Errors and statistics

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ErrKind {
    /// Unexpected status (GET not 206, OPTIONS not 2xx, ...).
    Status,
    /// `Content-Range` missing or not equal to the requested range and file size.
    ContentRange,
    /// `Content-Length` not equal to the length of the requested range.
    Length,
    /// `Access-Control-Allow-Origin` missing or not matching.
    Cors,
    /// Body bytes differ from the local file (`--verify-file`).
    Verify,
    /// Response that this minimal client cannot frame (chunked, no length, header too large...).
    Protocol,
    /// Read/write error or connection closed mid-response.
    Io,
    /// The exchange took longer than `--timeout`.
    Timeout,
    /// Connection could not be established.
    Connect,
}

const ERR_KINDS: [ErrKind; 9] = [
    ErrKind::Status,
    ErrKind::ContentRange,
    ErrKind::Length,
    ErrKind::Cors,
    ErrKind::Verify,
    ErrKind::Protocol,
    ErrKind::Io,
    ErrKind::Timeout,
    ErrKind::Connect,
];

impl ErrKind {
    fn name(self) -> &'static str {
        match self {
            ErrKind::Status => "status",
            ErrKind::ContentRange => "content_range",
            ErrKind::Length => "length",
            ErrKind::Cors => "cors",
            ErrKind::Verify => "verify",
            ErrKind::Protocol => "protocol",
            ErrKind::Io => "io",
            ErrKind::Timeout => "timeout",
            ErrKind::Connect => "connect",
        }
    }

    fn index(self) -> usize {
        ERR_KINDS.iter().position(|k| *k == self).unwrap_or(0)
    }
}

/// An error with a short human-readable description.
struct Fail {
    kind: ErrKind,
    msg: String,
}

fn fail(kind: ErrKind, msg: impl Into<String>) -> Fail {
    Fail {
        kind,
        msg: msg.into(),
    }
}

#[derive(Default)]
struct Stats {
    gets: u64,
    options: u64,
    payload: u64,
    bytes_read: u64,
    bytes_written: u64,
    connects: u64,
    errors: [u64; ERR_KINDS.len()],
    first_error: Option<String>,
    /// GET latencies in nanoseconds (request write to last body byte).
    get_lat: Vec<u64>,
    /// OPTIONS latencies in nanoseconds.
    opt_lat: Vec<u64>,
}

impl Stats {
    fn record(&mut self, f: Fail) {
        self.errors[f.kind.index()] += 1;
        if self.first_error.is_none() {
            self.first_error = Some(format!("{}: {}", f.kind.name(), f.msg));
        }
    }

    fn merge(&mut self, o: Stats) {
        self.gets += o.gets;
        self.options += o.options;
        self.payload += o.payload;
        self.bytes_read += o.bytes_read;
        self.bytes_written += o.bytes_written;
        self.connects += o.connects;
        for (a, b) in self.errors.iter_mut().zip(o.errors) {
            *a += b;
        }
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
        self.get_lat.extend(o.get_lat);
        self.opt_lat.extend(o.opt_lat);
    }

    fn error_total(&self) -> u64 {
        self.errors.iter().sum()
    }
}

// ---------------------------------------------------------------------------------------------
// Minimal HTTP/1.1 response parsing

#[derive(Clone, Copy, PartialEq, Eq)]
enum ContentRange {
    Missing,
    Invalid,
    Range { first: u64, last: u64, size: u64 },
}

impl ContentRange {
    fn describe(self) -> String {
        match self {
            ContentRange::Missing => "none".to_string(),
            ContentRange::Invalid => "an unparsable value".to_string(),
            ContentRange::Range { first, last, size } => format!("bytes {first}-{last}/{size}"),
        }
    }
}

struct Head {
    status: u16,
    content_length: Option<u64>,
    content_range: ContentRange,
    /// `Access-Control-Allow-Origin` present and equal to `*` or our origin.
    acao: bool,
    /// The server will close the connection after this response.
    close: bool,
    /// A transfer coding other than identity (not supported by this client).
    chunked: bool,
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

fn parse_content_range(v: &[u8]) -> ContentRange {
    if v.len() < 6 || !v[..6].eq_ignore_ascii_case(b"bytes ") {
        return ContentRange::Invalid;
    }
    let v = trim(&v[6..]);
    let Some(dash) = v.iter().position(|&b| b == b'-') else {
        return ContentRange::Invalid;
    };
    let Some(slash) = v.iter().position(|&b| b == b'/') else {
        return ContentRange::Invalid;
    };
    if slash < dash {
        return ContentRange::Invalid;
    }
    match (
        parse_u64(&v[..dash]),
        parse_u64(&v[dash + 1..slash]),
        parse_u64(&v[slash + 1..]),
    ) {
        (Some(first), Some(last), Some(size)) => ContentRange::Range { first, last, size },
        _ => ContentRange::Invalid,
    }
}

fn contains_token(v: &[u8], token: &[u8]) -> bool {
    v.split(|&b| b == b',')
        .any(|t| trim(t).eq_ignore_ascii_case(token))
}

/// Parses a complete response head (status line and headers, ending with an empty line).
fn parse_head(h: &[u8]) -> Result<Head, Fail> {
    let mut lines = h
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = lines.next().unwrap_or_default();
    if status_line.len() < 12
        || !status_line.starts_with(b"HTTP/1.")
        || status_line[8] != b' '
        || (status_line.len() > 12 && status_line[12] != b' ')
    {
        return Err(fail(
            ErrKind::Protocol,
            format!("bad status line {:?}", String::from_utf8_lossy(status_line)),
        ));
    }
    let Some(status) = parse_u64(&status_line[9..12]).map(|s| s as u16) else {
        return Err(fail(ErrKind::Protocol, "bad status code"));
    };
    let http10 = status_line[7] == b'0';
    let mut head = Head {
        status,
        content_length: None,
        content_range: ContentRange::Missing,
        acao: false,
        close: http10,
        chunked: false,
    };
    for line in lines {
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(fail(ErrKind::Protocol, "header line without a colon"));
        };
        let name = &line[..colon];
        let value = trim(&line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"content-length") {
            let Some(n) = parse_u64(value) else {
                return Err(fail(ErrKind::Protocol, "bad Content-Length"));
            };
            if head.content_length.is_some_and(|old| old != n) {
                return Err(fail(
                    ErrKind::Protocol,
                    "conflicting Content-Length headers",
                ));
            }
            head.content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"content-range") {
            head.content_range = parse_content_range(value);
        } else if name.eq_ignore_ascii_case(b"access-control-allow-origin") {
            head.acao = value == b"*" || value == ORIGIN.as_bytes();
        } else if name.eq_ignore_ascii_case(b"connection") {
            if contains_token(value, b"close") {
                head.close = true;
            } else if contains_token(value, b"keep-alive") {
                head.close = false;
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            head.chunked = !value.eq_ignore_ascii_case(b"identity");
        }
    }
    Ok(head)
}

/// Number of body bytes that follow `head`.
fn body_length(head: &Head, head_request: bool) -> Result<u64, Fail> {
    if head_request || head.status < 200 || head.status == 204 || head.status == 304 {
        return Ok(0);
    }
    if head.chunked {
        return Err(fail(
            ErrKind::Protocol,
            "chunked responses are not supported",
        ));
    }
    head.content_length.ok_or_else(|| {
        fail(
            ErrKind::Protocol,
            format!("status {} without Content-Length", head.status),
        )
    })
}

fn find_head_end(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Compares body bytes with a local copy of the file.
struct Verifier {
    file: Arc<File>,
    scratch: Vec<u8>,
}

impl Verifier {
    fn check(&mut self, offset: u64, data: &[u8]) -> bool {
        if self.scratch.len() < data.len() {
            self.scratch.resize(data.len(), 0);
        }
        let want = &mut self.scratch[..data.len()];
        self.file.read_exact_at(want, offset).is_ok() && want == data
    }
}

/// One keep-alive connection with its read buffer.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    read_bytes: u64,
    written_bytes: u64,
}

impl Conn {
    fn new(stream: TcpStream) -> Self {
        Conn {
            stream,
            buf: vec![0; BUF_SIZE],
            start: 0,
            end: 0,
            read_bytes: 0,
            written_bytes: 0,
        }
    }

    async fn send(&mut self, req: &[u8]) -> Result<(), Fail> {
        self.stream
            .write_all(req)
            .await
            .map_err(|e| fail(ErrKind::Io, format!("write: {e}")))?;
        self.written_bytes += req.len() as u64;
        Ok(())
    }

    /// Reads more bytes after `end`, compacting the buffer first if it is full.
    async fn fill(&mut self) -> Result<(), Fail> {
        if self.end == self.buf.len() {
            if self.start == 0 {
                return Err(fail(
                    ErrKind::Protocol,
                    "response head larger than the buffer",
                ));
            }
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = self
            .stream
            .read(&mut self.buf[self.end..])
            .await
            .map_err(|e| fail(ErrKind::Io, format!("read: {e}")))?;
        if n == 0 {
            return Err(fail(ErrKind::Io, "connection closed by the server"));
        }
        self.end += n;
        self.read_bytes += n as u64;
        Ok(())
    }

    async fn read_head(&mut self) -> Result<Head, Fail> {
        // Bytes of the pending head already searched for the terminating empty line.
        let mut searched = 0usize;
        loop {
            let from = self.start + searched;
            if let Some(n) = find_head_end(&self.buf[from..self.end]) {
                let head_end = from + n;
                let head = parse_head(&self.buf[self.start..head_end]);
                self.start = head_end;
                return head;
            }
            searched = (self.end - self.start).saturating_sub(3);
            self.fill().await?;
        }
    }

    /// Reads exactly `len` body bytes; returns whether they matched the file (if verifying).
    async fn read_body(
        &mut self,
        mut len: u64,
        mut offset: u64,
        verify: &mut Option<Verifier>,
    ) -> Result<bool, Fail> {
        let mut same = true;
        let buffered = ((self.end - self.start) as u64).min(len) as usize;
        if buffered > 0 {
            if let Some(v) = verify.as_mut() {
                same &= v.check(offset, &self.buf[self.start..self.start + buffered]);
            }
            self.start += buffered;
            len -= buffered as u64;
            offset += buffered as u64;
        }
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        // If more is due, the buffer is empty now: read straight into its front and never past
        // the end of this body.
        while len > 0 {
            let want = len.min(self.buf.len() as u64) as usize;
            let n = self
                .stream
                .read(&mut self.buf[..want])
                .await
                .map_err(|e| fail(ErrKind::Io, format!("read body: {e}")))?;
            if n == 0 {
                return Err(fail(
                    ErrKind::Io,
                    format!("connection closed with {len} body bytes missing"),
                ));
            }
            self.read_bytes += n as u64;
            if let Some(v) = verify.as_mut() {
                same &= v.check(offset, &self.buf[..n]);
            }
            len -= n as u64;
            offset += n as u64;
        }
        Ok(same)
    }
}

// ---------------------------------------------------------------------------------------------
// Exchanges

/// Settings shared by all connections.
struct Shared {
    addr: SocketAddr,
    /// Everything of a GET request before the range numbers.
    get_prefix: Vec<u8>,
    /// Everything of a GET request after the range numbers.
    get_suffix: Vec<u8>,
    options_req: Vec<u8>,
    plan: RangePlan,
    preflight: bool,
    seed: u64,
    timeout: Duration,
    verify_file: Option<Arc<File>>,
}

/// What a finished exchange left behind: a response-level error (the connection is still in
/// sync) and whether the connection may be reused.
struct Outcome {
    error: Option<Fail>,
    reusable: bool,
}

async fn options_exchange(c: &mut Conn, sh: &Shared) -> Result<Outcome, Fail> {
    c.send(&sh.options_req).await?;
    let head = c.read_head().await?;
    let len = body_length(&head, false)?;
    c.read_body(len, 0, &mut None).await?;
    let error = if !(200..300).contains(&head.status) {
        Some(fail(
            ErrKind::Status,
            format!("OPTIONS answered {}", head.status),
        ))
    } else if !head.acao {
        Some(fail(
            ErrKind::Cors,
            "OPTIONS answer without a matching Access-Control-Allow-Origin",
        ))
    } else {
        None
    };
    Ok(Outcome {
        error,
        reusable: !head.close,
    })
}

async fn get_exchange(
    c: &mut Conn,
    req: &[u8],
    (first, last): (u64, u64),
    file_size: u64,
    verify: &mut Option<Verifier>,
) -> Result<Outcome, Fail> {
    c.send(req).await?;
    let head = c.read_head().await?;
    let len = body_length(&head, false)?;
    let expected = ContentRange::Range {
        first,
        last,
        size: file_size,
    };
    let want_len = last - first + 1;
    let mut error = if head.status != 206 {
        Some(fail(
            ErrKind::Status,
            format!("GET bytes={first}-{last} answered {}", head.status),
        ))
    } else if head.content_range != expected {
        Some(fail(
            ErrKind::ContentRange,
            format!(
                "GET bytes={first}-{last}: expected Content-Range bytes {first}-{last}/{file_size}, got {}",
                head.content_range.describe()
            ),
        ))
    } else if len != want_len {
        Some(fail(
            ErrKind::Length,
            format!("GET bytes={first}-{last}: Content-Length {len}, expected {want_len}"),
        ))
    } else if !head.acao {
        Some(fail(
            ErrKind::Cors,
            "GET answer without a matching Access-Control-Allow-Origin",
        ))
    } else {
        None
    };
    // Only a body that should be the requested range is compared with the file.
    let mut no_verify = None;
    let v = if error.is_none() {
        verify
    } else {
        &mut no_verify
    };
    let same = c.read_body(len, first, v).await?;
    if !same && error.is_none() {
        error = Some(fail(
            ErrKind::Verify,
            format!("GET bytes={first}-{last}: body differs from the file"),
        ));
    }
    Ok(Outcome {
        error,
        reusable: !head.close,
    })
}

/// Runs one connection (reconnecting when needed) until the deadline.
async fn run_connection(id: usize, sh: Arc<Shared>, deadline: Instant) -> Stats {
    let mut st = Stats {
        get_lat: Vec::with_capacity(4096),
        ..Stats::default()
    };
    let mut rng = Rng::new(sh.seed ^ (id as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93));
    let mut verify = sh.verify_file.as_ref().map(|f| Verifier {
        file: Arc::clone(f),
        scratch: Vec::new(),
    });
    let mut req = Vec::with_capacity(sh.get_prefix.len() + sh.get_suffix.len() + 48);
    let mut conn: Option<Conn> = None;

    // Runs `fut` until its per-exchange timeout or the end of the run, whichever comes first.
    // `None` means the run ended while it was in flight (not an error).
    macro_rules! bounded {
        ($fut:expr) => {{
            let limit = deadline.min(Instant::now() + sh.timeout);
            match timeout_at(limit, $fut).await {
                Ok(r) => Some(r),
                Err(_) if Instant::now() >= deadline => None,
                Err(_) => Some(Err(fail(ErrKind::Timeout, "exchange timed out"))),
            }
        }};
    }

    'run: while Instant::now() < deadline {
        // Opens a connection if there is none (leaves the loop when the run is over).
        macro_rules! ensure_conn {
            () => {
                if conn.is_none() {
                    let connect = async {
                        TcpStream::connect(sh.addr)
                            .await
                            .map_err(|e| fail(ErrKind::Connect, e.to_string()))
                    };
                    match bounded!(connect) {
                        None => break 'run,
                        Some(Ok(s)) => {
                            let _ = s.set_nodelay(true);
                            st.connects += 1;
                            conn = Some(Conn::new(s));
                        }
                        Some(Err(e)) => {
                            st.record(e);
                            tokio::time::sleep_until(
                                deadline.min(Instant::now() + CONNECT_BACKOFF),
                            )
                            .await;
                            continue 'run;
                        }
                    }
                }
            };
        }
        ensure_conn!();
        let Some(c) = conn.as_mut() else { continue };

        if sh.preflight {
            let t0 = Instant::now();
            match bounded!(options_exchange(c, &sh)) {
                None => break 'run,
                Some(Ok(out)) => {
                    if !out.reusable {
                        retire(&mut conn, &mut st);
                    }
                    if let Some(e) = out.error {
                        st.record(e);
                        continue 'run;
                    }
                    st.options += 1;
                    st.opt_lat.push(t0.elapsed().as_nanos() as u64);
                }
                Some(Err(e)) => {
                    st.record(e);
                    retire(&mut conn, &mut st);
                    continue 'run;
                }
            }
        }
        // After a preflight on a connection the server closed, the GET goes on a new one.
        ensure_conn!();
        let Some(c) = conn.as_mut() else { continue };

        let range = sh.plan.pick(&mut rng);
        req.clear();
        req.extend_from_slice(&sh.get_prefix);
        let _ = write!(req, "{}-{}", range.0, range.1);
        req.extend_from_slice(&sh.get_suffix);

        let t0 = Instant::now();
        match bounded!(get_exchange(c, &req, range, sh.plan.file_size, &mut verify)) {
            None => break 'run,
            Some(Ok(out)) => {
                let elapsed = t0.elapsed();
                if !out.reusable {
                    retire(&mut conn, &mut st);
                }
                match out.error {
                    Some(e) => st.record(e),
                    None => {
                        st.gets += 1;
                        st.payload += range.1 - range.0 + 1;
                        st.get_lat.push(elapsed.as_nanos() as u64);
                    }
                }
            }
            Some(Err(e)) => {
                st.record(e);
                retire(&mut conn, &mut st);
            }
        }
    }
    retire(&mut conn, &mut st);
    st
}

/// Drops the connection, keeping its byte counters.
fn retire(conn: &mut Option<Conn>, st: &mut Stats) {
    if let Some(c) = conn.take() {
        st.bytes_read += c.read_bytes;
        st.bytes_written += c.written_bytes;
    }
}

/// `HEAD` the URL once and return its `Content-Length`.
async fn head_file_size(t: &Target, limit: Duration) -> Result<u64> {
    let req = format!(
        "HEAD {} HTTP/1.1\r\nHost: {}\r\nOrigin: {ORIGIN}\r\nAccept: */*\r\nUser-Agent: webseed-load\r\nConnection: close\r\n\r\n",
        t.path, t.host
    );
    let work = async {
        let stream = TcpStream::connect(t.addr)
            .await
            .with_context(|| format!("connect to {}", t.addr))?;
        let mut c = Conn::new(stream);
        c.send(req.as_bytes())
            .await
            .map_err(|f| anyhow::anyhow!(f.msg))?;
        let head = c.read_head().await.map_err(|f| anyhow::anyhow!(f.msg))?;
        ensure!(
            head.status == 200,
            "HEAD {} answered {} (expected 200)",
            t.path,
            head.status
        );
        head.content_length
            .context("HEAD answer has no Content-Length; pass --file-size")
    };
    tokio::time::timeout(limit, work)
        .await
        .context("HEAD request timed out")?
}

// ---------------------------------------------------------------------------------------------
// Report

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

struct Report<'a> {
    args: &'a Args,
    file_size: u64,
    elapsed: f64,
    st: Stats,
}

impl Report<'_> {
    fn summary(&mut self) -> Summary {
        self.st.get_lat.sort_unstable();
        self.st.opt_lat.sort_unstable();
        let lat = &self.st.get_lat;
        let secs = self.elapsed.max(1e-9);
        let mean = if lat.is_empty() {
            0.0
        } else {
            lat.iter().map(|&x| x as f64).sum::<f64>() / lat.len() as f64 / 1e6
        };
        Summary {
            get_rps: self.st.gets as f64 / secs,
            total_rps: (self.st.gets + self.st.options) as f64 / secs,
            mb_per_s: self.st.payload as f64 / secs / 1e6,
            p50: ms(percentile(lat, 50.0)),
            p90: ms(percentile(lat, 90.0)),
            p99: ms(percentile(lat, 99.0)),
            max: ms(lat.last().copied().unwrap_or(0)),
            mean,
            opt_p50: ms(percentile(&self.st.opt_lat, 50.0)),
            opt_p99: ms(percentile(&self.st.opt_lat, 99.0)),
        }
    }

    fn json(&mut self) -> String {
        let s = self.summary();
        let a = self.args;
        let st = &self.st;
        let mut o = String::with_capacity(1024);
        let _ = write!(
            o,
            "{{\"label\":{},\"url\":{},\"connections\":{},\"threads\":{},\"duration_s\":{},\"elapsed_s\":{:.3},\
             \"range_size\":{},\"file_size\":{},\"align\":{},\"preflight\":{},\"seed\":{},\
             \"gets\":{},\"options\":{},\"requests\":{},\"get_rps\":{:.1},\"total_rps\":{:.1},\
             \"payload_bytes\":{},\"bytes_read\":{},\"bytes_written\":{},\"mb_per_s\":{:.2},\"gb_per_s\":{:.4},\
             \"lat_p50_ms\":{:.3},\"lat_p90_ms\":{:.3},\"lat_p99_ms\":{:.3},\"lat_max_ms\":{:.3},\"lat_mean_ms\":{:.3},\
             \"opt_p50_ms\":{:.3},\"opt_p99_ms\":{:.3},\"connects\":{},\"errors\":{}",
            json_str(&a.label),
            json_str(&a.url),
            a.connections,
            a.threads,
            a.duration,
            self.elapsed,
            a.range_size,
            self.file_size,
            a.align,
            a.preflight,
            a.seed,
            st.gets,
            st.options,
            st.gets + st.options,
            s.get_rps,
            s.total_rps,
            st.payload,
            st.bytes_read,
            st.bytes_written,
            s.mb_per_s,
            s.mb_per_s / 1000.0,
            s.p50,
            s.p90,
            s.p99,
            s.max,
            s.mean,
            s.opt_p50,
            s.opt_p99,
            st.connects,
            st.error_total(),
        );
        for k in ERR_KINDS {
            let _ = write!(o, ",\"err_{}\":{}", k.name(), st.errors[k.index()]);
        }
        let first = st
            .first_error
            .as_deref()
            .map_or("null".to_string(), json_str);
        let _ = write!(o, ",\"first_error\":{first}}}");
        o
    }

    fn human(&mut self) -> String {
        let s = self.summary();
        let a = self.args;
        let st = &self.st;
        let mut o = String::new();
        let label = if a.label.is_empty() {
            String::new()
        } else {
            format!(" [{}]", a.label)
        };
        let _ = writeln!(o, "webseed-load{label} {}", a.url);
        let _ = writeln!(
            o,
            "  {} connections, {} threads, {:.2} s, range {} B aligned to {} B, file {} B, preflight {}, seed {}",
            a.connections,
            a.threads,
            self.elapsed,
            a.range_size,
            a.align,
            self.file_size,
            if a.preflight { "on" } else { "off" },
            a.seed
        );
        let _ = writeln!(o, "  GET       {:>10}   {:>10.1} req/s", st.gets, s.get_rps);
        if a.preflight {
            let _ = writeln!(
                o,
                "  OPTIONS   {:>10}   {:>10.1} req/s   latency p50 {:.3} ms, p99 {:.3} ms",
                st.options,
                st.options as f64 / self.elapsed.max(1e-9),
                s.opt_p50,
                s.opt_p99
            );
        }
        let _ = writeln!(
            o,
            "  all       {:>10}   {:>10.1} req/s   ({} connects)",
            st.gets + st.options,
            s.total_rps,
            st.connects
        );
        let _ = writeln!(
            o,
            "  payload   {:>10.1} MB   {:>10.1} MB/s   {:.3} GB/s   (bytes read {}, written {})",
            st.payload as f64 / 1e6,
            s.mb_per_s,
            s.mb_per_s / 1000.0,
            st.bytes_read,
            st.bytes_written
        );
        let _ = writeln!(
            o,
            "  latency   p50 {:.3} ms   p90 {:.3} ms   p99 {:.3} ms   max {:.3} ms   mean {:.3} ms   (GET, write to last body byte)",
            s.p50, s.p90, s.p99, s.max, s.mean
        );
        let kinds: Vec<String> = ERR_KINDS
            .iter()
            .filter(|k| st.errors[k.index()] > 0)
            .map(|k| format!("{} {}", k.name(), st.errors[k.index()]))
            .collect();
        let _ = writeln!(
            o,
            "  errors    {}{}",
            st.error_total(),
            if kinds.is_empty() {
                String::new()
            } else {
                format!(" ({})", kinds.join(", "))
            }
        );
        if let Some(e) = &st.first_error {
            let _ = writeln!(o, "  first error: {e}");
        }
        o
    }
}

struct Summary {
    get_rps: f64,
    total_rps: f64,
    mb_per_s: f64,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
    mean: f64,
    opt_p50: f64,
    opt_p99: f64,
}

// ---------------------------------------------------------------------------------------------
// Main

fn validate(a: &Args) -> Result<()> {
    ensure!(
        (1..=20_000).contains(&a.connections),
        "--connections must be 1..=20000"
    );
    ensure!((1..=256).contains(&a.threads), "--threads must be 1..=256");
    ensure!(
        a.duration.is_finite() && a.duration > 0.0 && a.duration <= 86_400.0,
        "--duration must be in (0, 86400] seconds"
    );
    ensure!(
        a.timeout.is_finite() && a.timeout > 0.0 && a.timeout <= 3600.0,
        "--timeout must be in (0, 3600] seconds"
    );
    ensure!(a.range_size > 0, "--range-size must be positive");
    ensure!(a.align > 0, "--align must be positive");
    ensure!(a.file_size != Some(0), "--file-size must be positive");
    Ok(())
}

async fn run(args: &Args) -> Result<Report<'_>> {
    let target = parse_url(&args.url)?;
    let timeout = Duration::from_secs_f64(args.timeout);
    let file_size = match args.file_size {
        Some(n) => n,
        None => head_file_size(&target, timeout).await?,
    };
    ensure!(file_size > 0, "the file is empty");

    let verify_file = match &args.verify_file {
        Some(p) => {
            let f = File::open(p).with_context(|| format!("open {}", p.display()))?;
            let len = f.metadata()?.len();
            ensure!(
                len == file_size,
                "{} has {len} bytes but the server's file has {file_size}",
                p.display()
            );
            Some(Arc::new(f))
        }
        None => None,
    };

    let get_prefix = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nRange: bytes=",
        target.path, target.host
    );
    let get_suffix = format!(
        "\r\nCache-Control: no-store\r\nOrigin: {ORIGIN}\r\nAccept: */*\r\nAccept-Encoding: identity\r\nUser-Agent: webseed-load\r\n\r\n"
    );
    let options_req = format!(
        "OPTIONS {} HTTP/1.1\r\nHost: {}\r\nOrigin: {ORIGIN}\r\nAccess-Control-Request-Method: GET\r\n\
         Access-Control-Request-Headers: cache-control\r\nCache-Control: no-cache\r\nAccept: */*\r\n\
         User-Agent: webseed-load\r\n\r\n",
        target.path, target.host
    );
    let shared = Arc::new(Shared {
        addr: target.addr,
        get_prefix: get_prefix.into_bytes(),
        get_suffix: get_suffix.into_bytes(),
        options_req: options_req.into_bytes(),
        plan: RangePlan::new(file_size, args.range_size, args.align),
        preflight: args.preflight,
        seed: args.seed,
        timeout,
        verify_file,
    });

    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(args.duration);
    let tasks: Vec<_> = (0..args.connections)
        .map(|id| tokio::spawn(run_connection(id, Arc::clone(&shared), deadline)))
        .collect();
    let mut total = Stats::default();
    for t in tasks {
        total.merge(t.await.context("connection task failed")?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    Ok(Report {
        args,
        file_size,
        elapsed,
        st: total,
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = validate(&args).and_then(|()| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
            .context("cannot start the tokio runtime")?;
        rt.block_on(run(&args)).map(|mut report| {
            let text = if args.json {
                report.json() + "\n"
            } else {
                report.human()
            };
            let failed = report.st.error_total() > 0 || report.st.gets == 0;
            (text, failed)
        })
    });
    match result {
        Ok((text, failed)) => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
            if failed && args.fail_on_error {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("webseed-load: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_206_head() {
        let h = b"HTTP/1.1 206 Partial Content\r\nContent-Length: 16384\r\n\
                  content-range: bytes 16384-32767/1073741824\r\n\
                  Access-Control-Allow-Origin: *\r\nConnection: keep-alive\r\n\r\n";
        let head = parse_head(h).ok().expect("parses");
        assert_eq!(head.status, 206);
        assert_eq!(head.content_length, Some(16384));
        assert!(head.acao && !head.close && !head.chunked);
        assert!(
            head.content_range
                == ContentRange::Range {
                    first: 16384,
                    last: 32767,
                    size: 1 << 30
                }
        );
    }

    #[test]
    fn http10_closes_and_bad_ranges_are_invalid() {
        let head = parse_head(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n")
            .ok()
            .expect("parses");
        assert!(head.close);
        assert!(parse_content_range(b"bytes */100") == ContentRange::Invalid);
        assert!(parse_content_range(b"bytes 5-1") == ContentRange::Invalid);
        assert!(parse_head(b"HTTP/1.1 2x6 X\r\n\r\n").is_err());
    }

    #[test]
    fn ranges_are_aligned_and_inside_the_file() {
        let plan = RangePlan::new(1_000_000, 16384, 16384);
        let mut rng = Rng::new(7);
        for _ in 0..10_000 {
            let (a, b) = plan.pick(&mut rng);
            assert_eq!(a % 16384, 0);
            assert_eq!(b - a + 1, 16384);
            assert!(b < 1_000_000);
        }
        let small = RangePlan::new(100, 16384, 16384);
        assert_eq!(small.pick(&mut rng), (0, 99));
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[], 99.0), 0);
    }

    #[test]
    fn only_loopback_targets() {
        assert!(parse_url("http://127.0.0.1:8080/static/webseed/a%20b.mp4").is_ok());
        assert!(parse_url("http://10.0.0.1:80/").is_err());
        assert!(parse_url("https://127.0.0.1/").is_err());
        assert!(parse_url("http://127.0.0.1/a b").is_err());
    }
}
