//! `webseed-load`'s connections (does I/O): keep-alive HTTP/1.1 over tokio's `TcpStream` with
//! requests built by hand, one exchange in flight (an optional CORS preflight, then a GET of a
//! random range), every response checked and optionally compared with a local copy of the file.

use std::fs::File;
use std::io::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use vidseed_loadtest::rng::Rng;
use vidseed_loadtest::target::Target;

use crate::http::{body_length, find_head_end, parse_head, ContentRange, Head, ORIGIN};
use crate::options::RangePlan;
use crate::stats::{fail, ErrKind, Fail, Stats};

/// Size of the per-connection read buffer (headers and body chunks).
const BUF_SIZE: usize = 128 * 1024;
/// Pause after a failed connect, so a dead server does not turn the client into a busy loop.
const CONNECT_BACKOFF: Duration = Duration::from_millis(50);

/// Compares body bytes with a local copy of the file.
pub struct Verifier {
    pub file: Arc<File>,
    pub scratch: Vec<u8>,
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
pub struct Conn {
    pub stream: TcpStream,
    pub buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    pub start: usize,
    pub end: usize,
    pub read_bytes: u64,
    pub written_bytes: u64,
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

/// Settings shared by all connections.
pub struct Shared {
    pub addr: SocketAddr,
    /// Everything of a GET request before the range numbers.
    pub get_prefix: Vec<u8>,
    /// Everything of a GET request after the range numbers.
    pub get_suffix: Vec<u8>,
    pub options_req: Vec<u8>,
    pub plan: RangePlan,
    pub preflight: bool,
    pub seed: u64,
    pub timeout: Duration,
    pub verify_file: Option<Arc<File>>,
}

/// What a finished exchange left behind: a response-level error (the connection is still in
/// sync) and whether the connection may be reused.
pub struct Outcome {
    pub error: Option<Fail>,
    pub reusable: bool,
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
pub async fn run_connection(id: usize, sh: Arc<Shared>, deadline: Instant) -> Stats {
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
pub async fn head_file_size(t: &Target, limit: Duration) -> Result<u64> {
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
