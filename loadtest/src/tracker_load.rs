//! `tracker-load`: WebTorrent tracker load generator over `ws://` and `wss://` (does I/O).
//!
//! It follows the closed loop of aquatic_ws_load_test, so that its "responses per second" can be
//! compared with the published aquatic tables, but without TLS, so that the same client drives
//! vidseed, aquatic_ws (TLS off) and the npm `bittorrent-tracker` server:
//!
//! * every connection has its own random 20-byte `peer_id`;
//! * it sends one request, then reads exactly one message, and repeats;
//! * if the message it read was an offer, the next request is the answer to that offer;
//! * otherwise it is an announce (weight `--announce-weight`) on a torrent picked from
//!   Gamma(shape 0.2, scale 100), mapped onto the torrent list as aquatic maps it, with
//!   `--offers` offers and `started`/`left 50` (or `completed`/`left 0` with probability
//!   `--seeder-ratio`), or a scrape of 5 such torrents (weight `--scrape-weight`).
//!
//! "Responses" are all messages read: announce responses, offers, answers, scrape responses and
//! errors (`failure reason`), exactly what aquatic's tool sums. With `--idle` the tool instead
//! measures what idle peers cost: each connection announces once (no offers) and then stays open.
//!
//! Only loopback targets are accepted: this tool is for measuring a server on the same machine.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use clap::Parser;
use fastwebsockets::{FragmentCollector, Frame, OpCode, Payload, Role, WebSocket};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::time::{sleep, timeout, timeout_at, Instant};

/// The fake SDP of offers and answers: 47 bytes, as in aquatic's load test.
const FAKE_SDP: &str = "abcdefg-abcdefg-abcdefg-abcdefg-abcdefg-abcdefg";
/// Pause after a failed connect or a dropped connection.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(50);
/// Handshakes in progress at once.
const CONNECT_PARALLELISM: usize = 128;
/// Torrents in one scrape (aquatic's value).
const SCRAPE_HASHES: usize = 5;
/// Largest message accepted from a server.
const MAX_MESSAGE: usize = 1 << 20;
/// Clock ticks per second of `/proc/self/stat` (USER_HZ, 100 on every Linux ABI in use).
const USER_HZ: f64 = 100.0;
/// Error reasons kept apart; further distinct reasons are summed under "(other reasons)".
const MAX_REASONS: usize = 32;

#[derive(Parser, Debug)]
#[command(
    name = "tracker-load",
    version,
    about = "WebTorrent (WebSocket) tracker load generator, aquatic_ws_load_test's loop over ws:// (loopback targets only)"
)]
struct Args {
    /// Target URL, `ws://127.0.0.1:PORT/path` (e.g. `/tracker/socket`) or `wss://…` (TLS;
    /// certificates are not verified — loopback test servers only).
    #[arg(long)]
    url: String,
    /// Number of WebSocket connections (one peer each).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Worker threads of the tokio multi-thread runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Length of the measured run in seconds, counted once all connections are open (with
    /// `--idle`: how long the idle peers stay connected after announcing).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Number of random info-hashes to announce on (ignored with `--info-hash-file`).
    #[arg(long, default_value_t = 10_000)]
    torrents: usize,
    /// File with one 40-hex-digit info-hash per line (blank lines and `#` comments skipped):
    /// announce on these instead of random ones (a tracker with an allow-list needs this).
    #[arg(long)]
    info_hash_file: Option<PathBuf>,
    /// Offers in each announce.
    #[arg(long, default_value_t = 10)]
    offers: usize,
    /// Probability that an announce is `completed` with `left: 0` instead of `started`/`left: 50`.
    #[arg(long, default_value_t = 0.25)]
    seeder_ratio: f64,
    /// Relative weight of scrape requests (5 info-hashes each).
    #[arg(long, default_value_t = 0)]
    scrape_weight: u32,
    /// Relative weight of announce requests.
    #[arg(long, default_value_t = 5)]
    announce_weight: u32,
    /// Seed of all random choices (peer ids, torrents, offer ids).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Spread the connections over this many local source addresses 127.0.1.1, 127.0.1.2, …
    /// (round robin), for servers that limit connections or announces per IP address.
    #[arg(long, default_value_t = 1)]
    source_ips: usize,
    /// A connection that gets no message for this many seconds sends its next request anyway
    /// (counted as a stall; a tracker that sends nothing back to an answer can stall the loop).
    #[arg(long, default_value_t = 2.0)]
    stall_timeout: f64,
    /// Seconds a connect plus WebSocket handshake may take.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Idle-peer mode: every connection announces once (`started`, no offers, torrents taken in
    /// turn) and then stays open for `--duration` seconds without sending anything.
    #[arg(long)]
    idle: bool,
    /// With `--idle`: create this file once every connection has announced (or given up), so a
    /// script can measure the server while the peers are held.
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Print one JSON object instead of the human-readable report.
    #[arg(long)]
    json: bool,
    /// Every this many seconds, print the responses per second of the last interval to stderr
    /// (and list them in the report), as aquatic's tool does every 5 s; 0: off.
    #[arg(long, default_value_t = 0.0)]
    report_every: f64,
    /// Free-form name of the run, echoed in the report.
    #[arg(long, default_value = "")]
    label: String,
}

// ---------------------------------------------------------------------------------------------
// Target URL

struct Target {
    addr: SocketAddr,
    /// `wss://`: TLS (certificates are not verified: targets are loopback test servers, often
    /// with self-signed certificates, as aquatic_ws_load_test does).
    tls: bool,
    /// The host name for TLS's server name indication.
    server_name: String,
    /// Value of the `Host` header (the authority as written in the URL).
    host: String,
    /// Request target of the upgrade request.
    path: String,
}

fn parse_url(url: &str) -> Result<Target> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("wss://") {
        (true, rest)
    } else {
        (false, url.strip_prefix("ws://").context("the URL must start with ws:// or wss://")?)
    };
    let t = parse_loopback(rest, if tls { 443 } else { 80 })?;
    Ok(Target { addr: t.addr, tls, server_name: t.server_name, host: t.host, path: t.path })
}

/// The local address of connection `i` when spreading over `n` source addresses
/// (127.0.1.1, 127.0.1.2, …, 127.0.1.250, 127.0.2.1, …); `None` lets the kernel choose.
fn source_addr(i: usize, n: usize) -> Option<IpAddr> {
    if n <= 1 {
        return None;
    }
    let j = i % n;
    let third = 1 + j / 250;
    let fourth = 1 + j % 250;
    Some(IpAddr::V4(Ipv4Addr::new(127, 0, third as u8, fourth as u8)))
}

// ---------------------------------------------------------------------------------------------
// Random numbers

use vidseed_loadtest::rng::Rng;
use vidseed_loadtest::target::parse_loopback;

/// Gamma(shape, scale) by Marsaglia and Tsang's method ("A simple method for generating gamma
/// variables", 2000). For shape < 1 it samples shape + 1 and multiplies by U^(1/shape).
#[derive(Clone, Copy, Debug)]
struct Gamma {
    scale: f64,
    /// d = a - 1/3 and c = 1 / sqrt(9 d) for a = shape (or shape + 1 when boosted).
    d: f64,
    c: f64,
    /// 1 / shape when shape < 1.
    boost: Option<f64>,
}

impl Gamma {
    fn new(shape: f64, scale: f64) -> Self {
        assert!(
            shape > 0.0 && scale > 0.0,
            "Gamma needs a positive shape and scale"
        );
        let (a, boost) = if shape < 1.0 {
            (shape + 1.0, Some(1.0 / shape))
        } else {
            (shape, None)
        };
        let d = a - 1.0 / 3.0;
        Gamma {
            scale,
            d,
            c: 1.0 / (9.0 * d).sqrt(),
            boost,
        }
    }

    fn sample(&self, rng: &mut Rng) -> f64 {
        let g = loop {
            let x = rng.normal();
            let t = 1.0 + self.c * x;
            if t <= 0.0 {
                continue;
            }
            let v = t * t * t;
            let u = rng.open01();
            let x2 = x * x;
            if u < 1.0 - 0.0331 * x2 * x2 || u.ln() < 0.5 * x2 + self.d * (1.0 - v + v.ln()) {
                break self.d * v;
            }
        };
        let g = match self.boost {
            Some(inv_shape) => g * rng.open01().powf(inv_shape),
            None => g,
        };
        g * self.scale
    }
}

/// Maps a Gamma(0.2, 100) sample onto `0..n` as aquatic_ws_load_test does:
/// `(min(g, 101) - 1) / 100 * (n - 1)`, negative values giving 0. About 43 % of the picks land
/// on the first torrent (47 % with 200 torrents) and the rest spread with a long tail.
fn torrent_index(g: f64, n: usize) -> usize {
    let p = (g.min(101.0) - 1.0) / 100.0;
    let max = n.saturating_sub(1);
    ((p * max as f64).max(0.0) as usize).min(max)
}

// ---------------------------------------------------------------------------------------------
// Messages

/// Appends `b` as a JSON string of 20 characters U+0000–U+00FF, one per byte (UTF-8 on the
/// wire, so bytes 0x80–0xFF take two bytes), escaping what JSON requires.
fn push_bin20(out: &mut Vec<u8>, b: &[u8; 20]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // Built on the stack and appended at once: at most 6 bytes per byte, and the quotes.
    let mut buf = [0u8; 122];
    buf[0] = b'"';
    let mut n = 1;
    for &byte in b {
        match byte {
            b'"' | b'\\' => {
                buf[n] = b'\\';
                buf[n + 1] = byte;
                n += 2;
            }
            0..=0x1f => {
                buf[n..n + 6].copy_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 15)]]);
                n += 6;
            }
            0x20..=0x7f => {
                buf[n] = byte;
                n += 1;
            }
            _ => {
                buf[n] = 0xc0 | (byte >> 6);
                buf[n + 1] = 0x80 | (byte & 0x3f);
                n += 2;
            }
        }
    }
    buf[n] = b'"';
    out.extend_from_slice(&buf[..=n]);
}

/// 20 characters U+0000–U+00FF back to 20 bytes.
fn decode_bin20(s: &str) -> Option<[u8; 20]> {
    let mut out = [0u8; 20];
    let mut n = 0;
    for c in s.chars() {
        *out.get_mut(n)? = u8::try_from(u32::from(c)).ok()?;
        n += 1;
    }
    (n == 20).then_some(out)
}

fn push_kv_bin(out: &mut Vec<u8>, key: &str, b: &[u8; 20]) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    push_bin20(out, b);
}

fn push_num(out: &mut Vec<u8>, key: &str, n: u64) {
    let _ = write!(out, ",\"{key}\":{n}");
}

/// An announce as aquatic's load test sends it: `numwant` = number of offers, then `left` and
/// `event`, then the offers (each with a fresh random `offer_id`). With no offers, `numwant` and
/// `offers` are left out, as the browser client does.
fn build_announce(
    out: &mut Vec<u8>,
    rng: &mut Rng,
    info_hash: &[u8; 20],
    peer_id: &[u8; 20],
    seeder: bool,
    offers: usize,
) {
    out.extend_from_slice(b"{\"action\":\"announce\"");
    push_kv_bin(out, "info_hash", info_hash);
    push_kv_bin(out, "peer_id", peer_id);
    if offers > 0 {
        push_num(out, "numwant", offers as u64);
    }
    push_num(out, "uploaded", 0);
    push_num(out, "downloaded", 0);
    push_num(out, "left", if seeder { 0 } else { 50 });
    out.extend_from_slice(if seeder {
        b",\"event\":\"completed\"".as_slice()
    } else {
        b",\"event\":\"started\"".as_slice()
    });
    if offers > 0 {
        out.extend_from_slice(b",\"offers\":[");
        for i in 0..offers {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"offer\":{\"type\":\"offer\",\"sdp\":\"");
            out.extend_from_slice(FAKE_SDP.as_bytes());
            out.extend_from_slice(b"\"},\"offer_id\":");
            push_bin20(out, &rng.bytes20());
            out.push(b'}');
        }
        out.push(b']');
    }
    out.push(b'}');
}

/// The answer to an offer, as the browser client sends it: no `left`, `event` or `numwant`.
fn build_answer(out: &mut Vec<u8>, peer_id: &[u8; 20], offer: &OfferRef) {
    out.extend_from_slice(b"{\"action\":\"announce\"");
    push_kv_bin(out, "info_hash", &offer.info_hash);
    push_kv_bin(out, "peer_id", peer_id);
    push_kv_bin(out, "to_peer_id", &offer.peer_id);
    push_kv_bin(out, "offer_id", &offer.offer_id);
    out.extend_from_slice(b",\"answer\":{\"type\":\"answer\",\"sdp\":\"");
    out.extend_from_slice(FAKE_SDP.as_bytes());
    out.extend_from_slice(b"\"}}");
}

fn build_scrape(out: &mut Vec<u8>, hashes: &[[u8; 20]]) {
    out.extend_from_slice(b"{\"action\":\"scrape\",\"info_hash\":[");
    for (i, h) in hashes.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_bin20(out, h);
    }
    out.extend_from_slice(b"]}");
}

/// What is needed to answer an offer.
#[derive(Clone, Debug, PartialEq, Eq)]
struct OfferRef {
    info_hash: [u8; 20],
    peer_id: [u8; 20],
    offer_id: [u8; 20],
}

/// A message from the tracker, classified as aquatic's load test counts it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Incoming {
    Announce,
    Offer(OfferRef),
    Answer,
    Scrape,
    /// A message with a `failure reason`.
    Error(String),
    /// Anything else: not JSON, an offer without usable ids, an unknown action.
    Other,
}

/// The fields needed to classify; everything else is skipped unparsed.
#[derive(Deserialize)]
struct RawIncoming<'a> {
    #[serde(borrow, default)]
    action: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default, rename = "failure reason")]
    failure: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    offer: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    answer: Option<serde::de::IgnoredAny>,
    #[serde(borrow, default)]
    info_hash: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    peer_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    offer_id: Option<std::borrow::Cow<'a, str>>,
}

fn classify(payload: &[u8]) -> Incoming {
    // A scrape response's `info_hash`-keyed `files` or an error without `info_hash` have fields
    // of other types than the struct expects in the rare case; fall back to a looser parse.
    let raw: RawIncoming<'_> = match serde_json::from_slice(payload) {
        Ok(r) => r,
        Err(_) => return classify_loose(payload),
    };
    if let Some(reason) = raw.failure {
        return Incoming::Error(reason.into_owned());
    }
    match raw.action.as_deref() {
        Some("scrape") => Incoming::Scrape,
        Some("announce") if raw.offer.is_some() => {
            let ids = (
                raw.info_hash.as_deref().and_then(decode_bin20),
                raw.peer_id.as_deref().and_then(decode_bin20),
                raw.offer_id.as_deref().and_then(decode_bin20),
            );
            match ids {
                (Some(info_hash), Some(peer_id), Some(offer_id)) => Incoming::Offer(OfferRef {
                    info_hash,
                    peer_id,
                    offer_id,
                }),
                _ => Incoming::Other,
            }
        }
        Some("announce") if raw.answer.is_some() => Incoming::Answer,
        Some("announce") => Incoming::Announce,
        _ => Incoming::Other,
    }
}

fn classify_loose(payload: &[u8]) -> Incoming {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(payload) else {
        return Incoming::Other;
    };
    if let Some(reason) = v.get("failure reason") {
        return Incoming::Error(
            reason
                .as_str()
                .map_or_else(|| reason.to_string(), str::to_string),
        );
    }
    match v.get("action").and_then(|a| a.as_str()) {
        Some("scrape") => Incoming::Scrape,
        _ => Incoming::Other,
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics

#[derive(Default, Debug)]
struct Stats {
    /// Successful connects (handshake done), including reconnects.
    connects: u64,
    connect_errors: u64,
    /// Connections lost during the run (closed by the server or an I/O error).
    disconnects: u64,
    announces: u64,
    answers: u64,
    scrapes: u64,
    resp_announce: u64,
    resp_offer: u64,
    resp_answer: u64,
    resp_scrape: u64,
    resp_error: u64,
    resp_other: u64,
    /// Waits for a message that ended by `--stall-timeout`.
    stalls: u64,
    bytes_sent: u64,
    bytes_read: u64,
    reasons: BTreeMap<String, u64>,
    first_error: Option<String>,
}

impl Stats {
    fn requests(&self) -> u64 {
        self.announces + self.answers + self.scrapes
    }

    fn responses(&self) -> u64 {
        self.resp_announce
            + self.resp_offer
            + self.resp_answer
            + self.resp_scrape
            + self.resp_error
            + self.resp_other
    }

    fn note_error(&mut self, what: impl FnOnce() -> String) {
        if self.first_error.is_none() {
            self.first_error = Some(what());
        }
    }

    fn count(&mut self, msg: &Incoming, len: usize) {
        self.bytes_read += len as u64;
        match msg {
            Incoming::Announce => self.resp_announce += 1,
            Incoming::Offer(_) => self.resp_offer += 1,
            Incoming::Answer => self.resp_answer += 1,
            Incoming::Scrape => self.resp_scrape += 1,
            Incoming::Other => self.resp_other += 1,
            Incoming::Error(reason) => {
                self.resp_error += 1;
                self.add_reason(reason, 1);
            }
        }
    }

    fn add_reason(&mut self, reason: &str, n: u64) {
        if let Some(c) = self.reasons.get_mut(reason) {
            *c += n;
        } else if self.reasons.len() < MAX_REASONS {
            self.reasons.insert(reason.to_string(), n);
        } else {
            *self
                .reasons
                .entry("(other reasons)".to_string())
                .or_insert(0) += n;
        }
    }

    fn merge(&mut self, o: Stats) {
        self.connects += o.connects;
        self.connect_errors += o.connect_errors;
        self.disconnects += o.disconnects;
        self.announces += o.announces;
        self.answers += o.answers;
        self.scrapes += o.scrapes;
        self.resp_announce += o.resp_announce;
        self.resp_offer += o.resp_offer;
        self.resp_answer += o.resp_answer;
        self.resp_scrape += o.resp_scrape;
        self.resp_error += o.resp_error;
        self.resp_other += o.resp_other;
        self.stalls += o.stalls;
        self.bytes_sent += o.bytes_sent;
        self.bytes_read += o.bytes_read;
        for (r, n) in o.reasons {
            self.add_reason(&r, n);
        }
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
    }
}

/// CPU seconds (user + system, all threads) this process has used so far.
fn own_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_ascii_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

// ---------------------------------------------------------------------------------------------
// Connections

type Stream = tokio_util::either::Either<TcpStream, tokio_rustls::client::TlsStream<TcpStream>>;
type Ws = FragmentCollector<Stream>;

/// Accepts any server certificate (loopback test servers only; see `Target::tls`).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The TLS client configuration for `wss://` targets.
fn tls_connector() -> Result<tokio_rustls::TlsConnector> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

struct Shared {
    target: Target,
    hashes: Vec<[u8; 20]>,
    gamma: Gamma,
    offers: usize,
    seeder_ratio: f64,
    announce_weight: u32,
    scrape_weight: u32,
    seed: u64,
    source_ips: usize,
    stall: Duration,
    timeout: Duration,
    connect_slots: Semaphore,
    /// Messages read so far by all connections (for the interval reports).
    live_responses: AtomicU64,
}

impl Shared {
    fn pick_torrent(&self, rng: &mut Rng) -> &[u8; 20] {
        &self.hashes[torrent_index(self.gamma.sample(rng), self.hashes.len())]
    }
}

/// Opens connection number `i`: TCP (from its source address), then the WebSocket handshake,
/// written and read by hand so that no HTTP library sits between the client and the socket.
async fn connect(sh: &Shared, i: usize) -> Result<Ws> {
    let _slot = sh.connect_slots.acquire().await?;
    let work = async {
        let sock = if sh.target.addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(ip) = source_addr(i, sh.source_ips) {
            sock.bind(SocketAddr::new(ip, 0))
                .with_context(|| format!("cannot bind to {ip}"))?;
        }
        let tcp = sock.connect(sh.target.addr).await.context("connect")?;
        tcp.set_nodelay(true)?;
        let mut stream: Stream = if sh.target.tls {
            let name = rustls::pki_types::ServerName::try_from(sh.target.server_name.clone())
                .context("the URL's host is not a valid TLS server name")?;
            let connector = tls_connector()?;
            tokio_util::either::Either::Right(connector.connect(name, tcp).await.context("TLS handshake")?)
        } else {
            tokio_util::either::Either::Left(tcp)
        };
        let req = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: tracker-load\r\n\r\n",
            sh.target.path,
            sh.target.host,
            fastwebsockets::handshake::generate_key()
        );
        stream.write_all(req.as_bytes()).await?;
        // Byte by byte up to the blank line, so that no frame byte is read into a buffer that
        // the WebSocket would not see (the server sends nothing before a request anyway).
        let mut head = Vec::with_capacity(256);
        while !head.ends_with(b"\r\n\r\n") {
            ensure!(head.len() < 16 * 1024, "handshake response head too large");
            let b = stream.read_u8().await.context("handshake response")?;
            head.push(b);
        }
        let status_line = head.split(|&b| b == b'\r').next().unwrap_or_default();
        let status_line = String::from_utf8_lossy(status_line);
        ensure!(
            status_line.split(' ').nth(1) == Some("101"),
            "upgrade refused: {status_line}"
        );
        let mut ws = WebSocket::after_handshake(stream, Role::Client);
        ws.set_max_message_size(MAX_MESSAGE);
        ws.set_auto_pong(true);
        ws.set_auto_close(true);
        Ok(FragmentCollector::new(ws))
    };
    timeout(sh.timeout, work)
        .await
        .unwrap_or_else(|_| bail!("no handshake within {:?}", sh.timeout))
}

/// Sends one text message (the client masks it in place in `buf`).
async fn send(ws: &mut Ws, buf: &mut [u8]) -> Result<()> {
    ws.write_frame(Frame::text(Payload::BorrowedMut(buf)))
        .await
        .map_err(anyhow::Error::from)
}

enum Read {
    Message(Incoming, usize),
    /// Nothing arrived before the stall timeout.
    Stall,
    /// The run is over.
    Deadline,
    /// The connection is gone.
    Lost(String),
}

/// Reads the next text or binary message, skipping control frames.
async fn read_one(ws: &mut Ws, stall_until: Instant, deadline: Instant) -> Read {
    let until = stall_until.min(deadline);
    loop {
        match timeout_at(until, ws.read_frame()).await {
            Err(_) if until >= deadline => return Read::Deadline,
            Err(_) => return Read::Stall,
            Ok(Err(e)) => return Read::Lost(format!("read: {e}")),
            Ok(Ok(frame)) => match frame.opcode {
                OpCode::Text | OpCode::Binary => {
                    let len = frame.payload.len();
                    return Read::Message(classify(&frame.payload), len);
                }
                OpCode::Close => return Read::Lost("closed by the server".into()),
                _ => {}
            },
        }
    }
}

/// The closed loop of one connection until `deadline`.
async fn run_connection(i: usize, sh: Arc<Shared>, first: Option<Ws>, deadline: Instant) -> Stats {
    let mut st = Stats::default();
    let mut rng = Rng::new(sh.seed ^ (i as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    let mut peer_id = rng.bytes20();
    let mut ws = first;
    let mut answer_to: Option<OfferRef> = None;
    let mut buf = Vec::with_capacity(4096);
    let mut hashes = [[0u8; 20]; SCRAPE_HASHES];
    let weight_total = u64::from(sh.announce_weight) + u64::from(sh.scrape_weight);
    while Instant::now() < deadline {
        let Some(w) = ws.as_mut() else {
            match timeout_at(deadline, connect(&sh, i)).await {
                Err(_) => break,
                Ok(Ok(new)) => {
                    st.connects += 1;
                    // A new connection is a new peer, as in aquatic's tool.
                    peer_id = rng.bytes20();
                    answer_to = None;
                    ws = Some(new);
                }
                Ok(Err(e)) => {
                    st.connect_errors += 1;
                    st.note_error(|| format!("connect: {e:#}"));
                    let _ = timeout_at(deadline, sleep(RECONNECT_BACKOFF)).await;
                }
            }
            continue;
        };
        buf.clear();
        if let Some(offer) = answer_to.take() {
            build_answer(&mut buf, &peer_id, &offer);
            st.answers += 1;
        } else if rng.below(weight_total) < u64::from(sh.announce_weight) {
            let ih = *sh.pick_torrent(&mut rng);
            let seeder = rng.chance(sh.seeder_ratio);
            build_announce(&mut buf, &mut rng, &ih, &peer_id, seeder, sh.offers);
            st.announces += 1;
        } else {
            for h in &mut hashes {
                *h = *sh.pick_torrent(&mut rng);
            }
            build_scrape(&mut buf, &hashes);
            st.scrapes += 1;
        }
        st.bytes_sent += buf.len() as u64;
        let lost = match timeout_at(deadline, send(w, &mut buf)).await {
            Err(_) => break,
            Ok(Err(e)) => Some(format!("write: {e:#}")),
            Ok(Ok(())) => match read_one(w, Instant::now() + sh.stall, deadline).await {
                Read::Message(msg, len) => {
                    st.count(&msg, len);
                    sh.live_responses.fetch_add(1, Ordering::Relaxed);
                    if let Incoming::Offer(o) = msg {
                        answer_to = Some(o);
                    }
                    None
                }
                Read::Stall => {
                    st.stalls += 1;
                    None
                }
                Read::Deadline => break,
                Read::Lost(why) => Some(why),
            },
        };
        if let Some(why) = lost {
            st.disconnects += 1;
            st.note_error(|| why);
            ws = None;
            let _ = timeout_at(deadline, sleep(RECONNECT_BACKOFF)).await;
        }
    }
    st
}

/// Idle mode, one connection: connect, announce once (`started`, no offers) on torrent
/// `i % n`, read the reply, then hold the socket until `hold_until` (answering pings).
async fn idle_connection(
    i: usize,
    sh: Arc<Shared>,
    settled: Arc<AtomicUsize>,
    mut hold_until: watch::Receiver<Option<Instant>>,
) -> (Stats, bool) {
    let mut st = Stats::default();
    let mut rng = Rng::new(sh.seed ^ (i as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    let peer_id = rng.bytes20();
    let mut ws = match connect(&sh, i).await {
        Ok(ws) => {
            st.connects += 1;
            Some(ws)
        }
        Err(e) => {
            st.connect_errors += 1;
            st.note_error(|| format!("connect: {e:#}"));
            None
        }
    };
    let mut announced = false;
    if let Some(w) = ws.as_mut() {
        let mut buf = Vec::with_capacity(256);
        let ih = sh.hashes[i % sh.hashes.len()];
        let seeder = rng.chance(sh.seeder_ratio);
        build_announce(&mut buf, &mut rng, &ih, &peer_id, seeder, 0);
        st.bytes_sent += buf.len() as u64;
        st.announces += 1;
        let far = Instant::now() + sh.timeout;
        let result = match send(w, &mut buf).await {
            Err(e) => Read::Lost(format!("write: {e:#}")),
            Ok(()) => read_one(w, far, far + Duration::from_secs(1)).await,
        };
        match result {
            Read::Message(msg, len) => {
                announced = msg == Incoming::Announce;
                st.count(&msg, len);
                if let Incoming::Error(reason) = &msg {
                    st.note_error(|| format!("announce refused: {reason}"));
                }
            }
            Read::Stall | Read::Deadline => {
                st.stalls += 1;
                st.note_error(|| "no reply to the announce".to_string());
            }
            Read::Lost(why) => {
                st.disconnects += 1;
                st.note_error(|| why);
                ws = None;
            }
        }
    }
    settled.fetch_add(1, Ordering::Relaxed);
    let until = match hold_until.wait_for(Option::is_some).await {
        Ok(v) => (*v).unwrap_or_else(Instant::now),
        Err(_) => Instant::now(),
    };
    if let Some(w) = ws.as_mut() {
        // Nothing is expected while idle; anything that arrives is counted.
        loop {
            match read_one(w, until, until).await {
                Read::Message(msg, len) => st.count(&msg, len),
                Read::Lost(why) => {
                    st.disconnects += 1;
                    st.note_error(|| format!("while idle: {why}"));
                    break;
                }
                Read::Stall | Read::Deadline => break,
            }
        }
    }
    (st, announced)
}

// ---------------------------------------------------------------------------------------------
// Running and reporting

fn load_hashes(args: &Args) -> Result<Vec<[u8; 20]>> {
    let Some(path) = &args.info_hash_file else {
        let mut rng = Rng::new(args.seed ^ 0x5EED_1AF0_4A5B_0001);
        return Ok((0..args.torrents).map(|_| rng.bytes20()).collect());
    };
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(parse_hex20(line).with_context(|| {
            format!("{}:{}: not a 40-hex-digit info-hash", path.display(), n + 1)
        })?);
    }
    ensure!(!out.is_empty(), "{} holds no info-hash", path.display());
    Ok(out)
}

fn parse_hex20(s: &str) -> Option<[u8; 20]> {
    if s.len() != 40 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

fn validate(a: &Args) -> Result<()> {
    ensure!(
        (1..=100_000).contains(&a.connections),
        "--connections must be 1..=100000"
    );
    ensure!((1..=256).contains(&a.threads), "--threads must be 1..=256");
    ensure!(
        a.duration.is_finite() && a.duration > 0.0 && a.duration <= 86_400.0,
        "--duration must be in (0, 86400] seconds"
    );
    for (name, v) in [
        ("--timeout", a.timeout),
        ("--stall-timeout", a.stall_timeout),
    ] {
        ensure!(
            v.is_finite() && v > 0.0 && v <= 3600.0,
            "{name} must be in (0, 3600] seconds"
        );
    }
    ensure!(
        a.torrents > 0 || a.info_hash_file.is_some(),
        "--torrents must be positive"
    );
    ensure!(a.offers <= 1000, "--offers must be at most 1000");
    ensure!(
        (0.0..=1.0).contains(&a.seeder_ratio),
        "--seeder-ratio must be in [0, 1]"
    );
    ensure!(
        a.announce_weight > 0 || a.scrape_weight > 0,
        "--announce-weight and --scrape-weight cannot both be 0"
    );
    ensure!(
        (1..=62_500).contains(&a.source_ips),
        "--source-ips must be 1..=62500"
    );
    ensure!(
        a.ready_file.is_none() || a.idle,
        "--ready-file only makes sense with --idle"
    );
    ensure!(
        a.report_every == 0.0 || (a.report_every.is_finite() && a.report_every >= 0.1),
        "--report-every must be 0 or at least 0.1 s"
    );
    Ok(())
}

struct Report<'a> {
    args: &'a Args,
    torrents: usize,
    /// Connections open when the measurement started.
    connected: usize,
    /// Seconds the initial connects took.
    connect_s: f64,
    /// Seconds of the measured window.
    elapsed: f64,
    /// CPU seconds this client used in the window, if known.
    cpu_s: Option<f64>,
    /// Idle mode: announces that got an announce response.
    announced: usize,
    /// Responses per second of each `--report-every` interval.
    intervals: Vec<f64>,
    st: Stats,
}

impl Report<'_> {
    fn rate(&self, n: u64) -> f64 {
        n as f64 / self.elapsed.max(1e-9)
    }

    fn cpu_share(&self) -> Option<f64> {
        self.cpu_s.map(|c| c / self.elapsed.max(1e-9))
    }

    fn json(&self) -> String {
        let a = self.args;
        let st = &self.st;
        let v = serde_json::json!({
            "label": a.label,
            "url": a.url,
            "mode": if a.idle { "idle" } else { "load" },
            "connections": a.connections,
            "threads": a.threads,
            "duration_s": a.duration,
            "torrents": self.torrents,
            "offers": a.offers,
            "seeder_ratio": a.seeder_ratio,
            "announce_weight": a.announce_weight,
            "scrape_weight": a.scrape_weight,
            "seed": a.seed,
            "source_ips": a.source_ips,
            "connected": self.connected,
            "connect_s": round3(self.connect_s),
            "elapsed_s": round3(self.elapsed),
            "connects": st.connects,
            "connect_errors": st.connect_errors,
            "disconnects": st.disconnects,
            "requests": st.requests(),
            "announces": st.announces,
            "answers": st.answers,
            "scrapes": st.scrapes,
            "requests_per_s": round1(self.rate(st.requests())),
            "responses": st.responses(),
            "responses_per_s": round1(self.rate(st.responses())),
            "resp_announce": st.resp_announce,
            "resp_offer": st.resp_offer,
            "resp_answer": st.resp_answer,
            "resp_scrape": st.resp_scrape,
            "resp_error": st.resp_error,
            "resp_other": st.resp_other,
            "stalls": st.stalls,
            "announced": self.announced,
            "bytes_sent": st.bytes_sent,
            "bytes_read": st.bytes_read,
            "client_cpu_s": self.cpu_s.map(round3),
            "client_cpu_share": self.cpu_share().map(round3),
            "first_error": st.first_error,
            "interval_responses_per_s": self.intervals,
            "error_reasons": st.reasons,
        });
        v.to_string()
    }

    fn human(&self) -> String {
        let a = self.args;
        let st = &self.st;
        let mut o = String::new();
        let _ = writeln!(
            o,
            "tracker-load {}{}: {} connections x {} thread(s), {} torrents, {} offers/announce, {} source address(es)",
            a.url,
            if a.label.is_empty() { String::new() } else { format!(" [{}]", a.label) },
            a.connections,
            a.threads,
            self.torrents,
            a.offers,
            a.source_ips
        );
        let _ = writeln!(
            o,
            "  connected {}/{} in {:.2} s; connects {}, connect errors {}, disconnects {}",
            self.connected,
            a.connections,
            self.connect_s,
            st.connects,
            st.connect_errors,
            st.disconnects
        );
        if a.idle {
            let _ = writeln!(
                o,
                "  idle: {} announced (announce response), {} other replies, held {:.1} s",
                self.announced,
                st.responses() - st.resp_announce,
                self.elapsed
            );
        } else {
            let _ = writeln!(
                o,
                "  requests  {:>10.0}/s  ({} announces, {} answers, {} scrapes in {:.2} s)",
                self.rate(st.requests()),
                st.announces,
                st.answers,
                st.scrapes,
                self.elapsed
            );
            let _ = writeln!(
                o,
                "  responses {:>10.0}/s  (announce {}, offer {}, answer {}, scrape {}, error {}, other {})",
                self.rate(st.responses()),
                st.resp_announce,
                st.resp_offer,
                st.resp_answer,
                st.resp_scrape,
                st.resp_error,
                st.resp_other
            );
            let _ = writeln!(
                o,
                "  stalls {} (no message within {} s)",
                st.stalls, a.stall_timeout
            );
        }
        if let Some(share) = self.cpu_share() {
            let _ = writeln!(
                o,
                "  client CPU {:.2} s = {:.0} % of one core",
                self.cpu_s.unwrap_or(0.0),
                share * 100.0
            );
        }
        for (reason, n) in &st.reasons {
            let _ = writeln!(o, "  error {n:>9}  {reason}");
        }
        if let Some(e) = &st.first_error {
            let _ = writeln!(o, "  first problem: {e}");
        }
        o
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Prints the responses per second of every interval until `deadline` to stderr, and returns
/// them (a last interval shorter than half the others is left out).
async fn report_intervals(
    sh: Arc<Shared>,
    every: Duration,
    start: Instant,
    deadline: Instant,
) -> Vec<f64> {
    let mut out = Vec::new();
    let mut last = (start, sh.live_responses.load(Ordering::Relaxed));
    while last.0 < deadline {
        let next = (last.0 + every).min(deadline);
        sleep(next.saturating_duration_since(Instant::now())).await;
        let now = (Instant::now(), sh.live_responses.load(Ordering::Relaxed));
        let secs = now.0.duration_since(last.0).as_secs_f64();
        if secs >= every.as_secs_f64() / 2.0 {
            let rate = (now.1 - last.1) as f64 / secs;
            eprintln!(
                "tracker-load: {:6.1} s {:9.0} responses/s",
                now.0.duration_since(start).as_secs_f64(),
                rate
            );
            out.push(round1(rate));
        }
        last = now;
    }
    out
}

async fn run(args: &Args) -> Result<Report<'_>> {
    let target = parse_url(&args.url)?;
    let hashes = load_hashes(args)?;
    let torrents = hashes.len();
    let sh = Arc::new(Shared {
        target,
        hashes,
        gamma: Gamma::new(0.2, 100.0),
        offers: args.offers,
        seeder_ratio: args.seeder_ratio,
        announce_weight: args.announce_weight,
        scrape_weight: args.scrape_weight,
        seed: args.seed,
        source_ips: args.source_ips,
        stall: Duration::from_secs_f64(args.stall_timeout),
        timeout: Duration::from_secs_f64(args.timeout),
        connect_slots: Semaphore::new(CONNECT_PARALLELISM),
        live_responses: AtomicU64::new(0),
    });
    if args.idle {
        return run_idle(args, sh, torrents).await;
    }

    // Open every connection first; the measured window starts when they are all up.
    let t0 = Instant::now();
    let opening: Vec<_> = (0..args.connections)
        .map(|i| {
            let sh = Arc::clone(&sh);
            tokio::spawn(async move { connect(&sh, i).await })
        })
        .collect();
    let mut first = Vec::with_capacity(args.connections);
    let mut setup = Stats::default();
    for t in opening {
        match t.await.context("connect task failed")? {
            Ok(ws) => {
                setup.connects += 1;
                first.push(Some(ws));
            }
            Err(e) => {
                setup.connect_errors += 1;
                setup.note_error(|| format!("connect: {e:#}"));
                first.push(None);
            }
        }
    }
    let connected = first.iter().filter(|w| w.is_some()).count();
    let connect_s = t0.elapsed().as_secs_f64();
    if connected == 0 {
        bail!(
            "no connection could be opened: {}",
            setup.first_error.unwrap_or_default()
        );
    }

    let cpu0 = own_cpu_seconds();
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(args.duration);
    let reporter = (args.report_every > 0.0).then(|| {
        tokio::spawn(report_intervals(
            Arc::clone(&sh),
            Duration::from_secs_f64(args.report_every),
            start,
            deadline,
        ))
    });
    let tasks: Vec<_> = first
        .into_iter()
        .enumerate()
        .map(|(i, ws)| tokio::spawn(run_connection(i, Arc::clone(&sh), ws, deadline)))
        .collect();
    let mut total = setup;
    for t in tasks {
        total.merge(t.await.context("connection task failed")?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu_s = own_cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    let intervals = match reporter {
        Some(r) => r.await.unwrap_or_default(),
        None => Vec::new(),
    };
    Ok(Report {
        args,
        torrents,
        connected,
        connect_s,
        elapsed,
        cpu_s,
        announced: 0,
        intervals,
        st: total,
    })
}

async fn run_idle(args: &Args, sh: Arc<Shared>, torrents: usize) -> Result<Report<'_>> {
    let t0 = Instant::now();
    let settled = Arc::new(AtomicUsize::new(0));
    let (hold_tx, hold_rx) = watch::channel(None);
    let tasks: Vec<_> = (0..args.connections)
        .map(|i| {
            tokio::spawn(idle_connection(
                i,
                Arc::clone(&sh),
                Arc::clone(&settled),
                hold_rx.clone(),
            ))
        })
        .collect();
    // Every connection has announced or given up within the connect and reply timeouts.
    let give_up = t0
        + sh.timeout * 2
        + Duration::from_secs(5)
        + Duration::from_millis(args.connections as u64 * 5);
    while settled.load(Ordering::Relaxed) < args.connections && Instant::now() < give_up {
        sleep(Duration::from_millis(20)).await;
    }
    let connect_s = t0.elapsed().as_secs_f64();
    let start = Instant::now();
    let _ = hold_tx.send(Some(start + Duration::from_secs_f64(args.duration)));
    if let Some(path) = &args.ready_file {
        std::fs::write(path, format!("{}\n", settled.load(Ordering::Relaxed)))
            .with_context(|| format!("write {}", path.display()))?;
    }
    let cpu0 = own_cpu_seconds();
    let mut total = Stats::default();
    let mut announced = 0;
    for t in tasks {
        let (st, ok) = t.await.context("connection task failed")?;
        total.merge(st);
        announced += usize::from(ok);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu_s = own_cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    Ok(Report {
        args,
        torrents,
        connected: total.connects as usize,
        connect_s,
        elapsed,
        cpu_s,
        announced,
        intervals: Vec::new(),
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
        let report = rt.block_on(run(&args));
        // Connections still held by tasks that missed the deadline are dropped with the runtime.
        rt.shutdown_timeout(Duration::from_secs(1));
        report.map(|r| {
            if args.json {
                r.json() + "\n"
            } else {
                r.human()
            }
        })
    });
    match result {
        Ok(text) => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tracker-load: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn sample_stats(g: &Gamma, n: usize, seed: u64) -> (f64, f64, Vec<f64>) {
        let mut rng = Rng::new(seed);
        let xs: Vec<f64> = (0..n).map(|_| g.sample(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n as f64 - 1.0);
        (mean, var, xs)
    }

    #[test]
    fn gamma_has_the_right_moments() {
        // shape 3, scale 2: mean 6, variance 12 (no boost).
        let (mean, var, xs) = sample_stats(&Gamma::new(3.0, 2.0), 200_000, 7);
        assert!((mean - 6.0).abs() < 0.05, "mean {mean}");
        assert!((var - 12.0).abs() < 0.3, "variance {var}");
        assert!(xs.iter().all(|&x| x > 0.0 && x.is_finite()));
        // aquatic's distribution, shape 0.2 (boosted), scale 100: mean 20, variance 2000.
        let (mean, var, xs) = sample_stats(&Gamma::new(0.2, 100.0), 400_000, 11);
        assert!((mean - 20.0).abs() < 0.5, "mean {mean}");
        assert!((var - 2000.0).abs() < 120.0, "variance {var}");
        assert!(xs.iter().all(|&x| x >= 0.0 && x.is_finite()));
        // P(X < 1) = P(Gamma(0.2, 1) < 0.01) = 0.43284 (regularised lower incomplete gamma).
        let below1 = xs.iter().filter(|&&x| x < 1.0).count() as f64 / xs.len() as f64;
        assert!((below1 - 0.43284).abs() < 0.005, "P(X<1) = {below1}");
        // The median of Gamma(0.2, 1) is 0.020746, so the median here is 2.0746.
        let mut sorted = xs;
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        assert!((median - 2.0746).abs() < 0.08, "median {median}");
    }

    #[test]
    fn gamma_of_shape_one_is_exponential() {
        // Exponential(scale 5): P(X > 5) = e^-1.
        let (mean, _, xs) = sample_stats(&Gamma::new(1.0, 5.0), 200_000, 3);
        assert!((mean - 5.0).abs() < 0.06, "mean {mean}");
        let tail = xs.iter().filter(|&&x| x > 5.0).count() as f64 / xs.len() as f64;
        assert!((tail - (-1.0f64).exp()).abs() < 0.005, "tail {tail}");
    }

    #[test]
    fn torrent_index_follows_aquatic_and_stays_in_range() {
        assert_eq!(torrent_index(0.0, 10_000), 0);
        assert_eq!(torrent_index(1.0, 10_000), 0);
        assert_eq!(torrent_index(11.0, 10_000), 999);
        assert_eq!(torrent_index(101.0, 10_000), 9999);
        assert_eq!(torrent_index(1e9, 10_000), 9999);
        assert_eq!(torrent_index(50.0, 1), 0);
        let g = Gamma::new(0.2, 100.0);
        let mut rng = Rng::new(5);
        let mut counts = vec![0u32; 200];
        for _ in 0..100_000 {
            counts[torrent_index(g.sample(&mut rng), 200)] += 1;
        }
        // Index 0 takes every g < 1 + 100/199, i.e. P(Gamma(0.2, 1) < 0.015025) = 0.4692.
        let first = f64::from(counts[0]) / 100_000.0;
        assert!((first - 0.4692).abs() < 0.01, "share of torrent 0: {first}");
        assert!(
            counts[199] > 0,
            "the clamp keeps the tail on the last torrent"
        );
    }

    fn all_bytes_ids() -> Vec<[u8; 20]> {
        (0..13)
            .map(|k| {
                let mut id = [0u8; 20];
                for (j, b) in id.iter_mut().enumerate() {
                    *b = ((k * 20 + j) % 256) as u8;
                }
                id
            })
            .collect()
    }

    #[test]
    fn binary_strings_round_trip_every_byte() {
        for id in all_bytes_ids() {
            let mut out = Vec::new();
            push_bin20(&mut out, &id);
            let s: String = serde_json::from_slice(&out).expect("valid JSON string");
            assert_eq!(s.chars().count(), 20);
            assert_eq!(decode_bin20(&s), Some(id));
        }
        assert_eq!(decode_bin20("short"), None);
        assert_eq!(decode_bin20(&"\u{100}".repeat(20)), None);
        assert_eq!(decode_bin20(&"a".repeat(21)), None);
    }

    fn bin_of(v: &Value) -> [u8; 20] {
        decode_bin20(v.as_str().expect("a string")).expect("20 binary characters")
    }

    #[test]
    fn announce_has_the_aquatic_shape() {
        let mut rng = Rng::new(1);
        let ids = all_bytes_ids();
        let mut out = Vec::new();
        build_announce(&mut out, &mut rng, &ids[0], &ids[12], false, 10);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["action"], "announce");
        assert_eq!(bin_of(&v["info_hash"]), ids[0]);
        assert_eq!(bin_of(&v["peer_id"]), ids[12]);
        assert_eq!(
            (
                v["left"].as_u64(),
                v["event"].as_str(),
                v["numwant"].as_u64()
            ),
            (Some(50), Some("started"), Some(10))
        );
        let offers = v["offers"].as_array().unwrap();
        assert_eq!(offers.len(), 10);
        let mut offer_ids = std::collections::HashSet::new();
        for o in offers {
            assert_eq!(o["offer"]["type"], "offer");
            assert_eq!(o["offer"]["sdp"].as_str().unwrap().len(), 47);
            offer_ids.insert(bin_of(&o["offer_id"]));
        }
        assert_eq!(offer_ids.len(), 10, "offer ids are random and distinct");

        out.clear();
        build_announce(&mut out, &mut rng, &ids[1], &ids[2], true, 0);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            (v["left"].as_u64(), v["event"].as_str()),
            (Some(0), Some("completed"))
        );
        assert!(v.get("offers").is_none() && v.get("numwant").is_none());
    }

    #[test]
    fn answer_and_scrape_messages() {
        let ids = all_bytes_ids();
        let offer = OfferRef {
            info_hash: ids[3],
            peer_id: ids[4],
            offer_id: ids[5],
        };
        let mut out = Vec::new();
        build_answer(&mut out, &ids[6], &offer);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["action"], "announce");
        assert_eq!(
            bin_of(&v["info_hash"]),
            ids[3],
            "answers go to the offer's swarm"
        );
        assert_eq!(bin_of(&v["peer_id"]), ids[6]);
        assert_eq!(bin_of(&v["to_peer_id"]), ids[4]);
        assert_eq!(bin_of(&v["offer_id"]), ids[5]);
        assert_eq!(v["answer"]["type"], "answer");
        assert_eq!(v["answer"]["sdp"].as_str().unwrap().len(), 47);
        for absent in ["left", "event", "numwant", "offers"] {
            assert!(
                v.get(absent).is_none(),
                "{absent} is not sent with an answer"
            );
        }

        out.clear();
        build_scrape(&mut out, &ids[7..12]);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["action"], "scrape");
        let hs: Vec<[u8; 20]> = v["info_hash"]
            .as_array()
            .unwrap()
            .iter()
            .map(bin_of)
            .collect();
        assert_eq!(hs, ids[7..12].to_vec());
    }

    #[test]
    fn server_messages_are_classified() {
        let ids = all_bytes_ids();
        let bin = |b: &[u8; 20]| {
            let mut o = Vec::new();
            push_bin20(&mut o, b);
            String::from_utf8(o).unwrap()
        };
        let ih = bin(&ids[0]);
        let announce = format!(
            r#"{{"action":"announce","interval":120,"complete":1,"incomplete":2,"info_hash":{ih}}}"#
        );
        assert_eq!(classify(announce.as_bytes()), Incoming::Announce);
        let offer = format!(
            r#"{{"action":"announce","offer":{{"type":"offer","sdp":"x"}},"offer_id":{},"peer_id":{},"info_hash":{ih}}}"#,
            bin(&ids[1]),
            bin(&ids[2])
        );
        assert_eq!(
            classify(offer.as_bytes()),
            Incoming::Offer(OfferRef {
                info_hash: ids[0],
                peer_id: ids[2],
                offer_id: ids[1]
            })
        );
        let answer = format!(
            r#"{{"action":"announce","answer":{{"type":"answer","sdp":"y"}},"offer_id":{ih},"peer_id":{ih},"info_hash":{ih}}}"#
        );
        assert_eq!(classify(answer.as_bytes()), Incoming::Answer);
        let scrape = format!(
            r#"{{"action":"scrape","files":{{{ih}:{{"complete":0,"incomplete":0,"downloaded":0}}}},"flags":{{"min_request_interval":600}}}}"#
        );
        assert_eq!(classify(scrape.as_bytes()), Incoming::Scrape);
        // Errors with and without action/info_hash (bittorrent-tracker's parse failures).
        let e1 = format!(
            r#"{{"failure reason":"too many announces","action":"announce","info_hash":{ih}}}"#
        );
        assert_eq!(
            classify(e1.as_bytes()),
            Incoming::Error("too many announces".into())
        );
        assert_eq!(
            classify(br#"{"failure reason":"invalid info_hash"}"#),
            Incoming::Error("invalid info_hash".into())
        );
        // A scrape error whose info_hash is a list still classifies.
        assert_eq!(
            classify(br#"{"failure reason":"x","action":"scrape","info_hash":[1,2]}"#),
            Incoming::Error("x".into())
        );
        assert_eq!(classify(b"{not json"), Incoming::Other);
        assert_eq!(classify(br#"{"action":"dance"}"#), Incoming::Other);
        // An offer whose ids are not 20 binary characters cannot be answered.
        assert_eq!(
            classify(
                br#"{"action":"announce","offer":{},"offer_id":"x","peer_id":"y","info_hash":"z"}"#
            ),
            Incoming::Other
        );
    }

    #[test]
    fn only_loopback_ws_targets() {
        assert!(parse_url("ws://127.0.0.1:9001/tracker/socket").is_ok());
        assert_eq!(
            parse_url("ws://127.0.0.1:9001/tracker/socket")
                .unwrap()
                .path,
            "/tracker/socket"
        );
        assert_eq!(parse_url("ws://127.0.0.1:9001").unwrap().path, "/");
        let t = parse_url("wss://127.0.0.1:9001/").unwrap();
        assert!(t.tls);
        assert_eq!(t.server_name, "127.0.0.1");
        let t = parse_url("wss://localhost/announce").unwrap();
        assert_eq!((t.addr.port(), t.server_name.as_str()), (443, "localhost"));
        assert!(!parse_url("ws://[::1]:9/").unwrap().tls);
        assert!(parse_url("http://127.0.0.1:9001/").is_err());
        assert!(parse_url("http://127.0.0.1:9001/").is_err());
        assert!(parse_url("ws://192.0.2.1:9001/").is_err());
    }

    #[test]
    fn source_addresses_are_loopback_and_distinct() {
        assert_eq!(source_addr(5, 1), None);
        let addrs: std::collections::HashSet<IpAddr> =
            (0..1000).filter_map(|i| source_addr(i, 600)).collect();
        assert_eq!(addrs.len(), 600);
        assert!(addrs.iter().all(|a| a.is_loopback()));
        assert_eq!(
            source_addr(0, 2),
            Some(IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1)))
        );
        assert_eq!(
            source_addr(251, 600),
            Some(IpAddr::V4(Ipv4Addr::new(127, 0, 2, 2)))
        );
    }

    #[test]
    fn hex_info_hashes() {
        let h = parse_hex20("00112233445566778899aabbccddeeff00112233").unwrap();
        assert_eq!(h[0], 0x00);
        assert_eq!(h[19], 0x33);
        assert!(parse_hex20("0011").is_none());
        assert!(parse_hex20(&"zz".repeat(20)).is_none());
    }
}
