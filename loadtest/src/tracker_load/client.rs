//! `tracker-load`'s connections (does I/O): TCP from the chosen source address, TLS for `wss://`
//! (any certificate: loopback test servers only), a WebSocket handshake written by hand, then
//! the closed loop of one request and one message read, or, in idle mode, one announce and a
//! held socket.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use fastwebsockets::{FragmentCollector, Frame, OpCode, Payload, Role, WebSocket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::time::{sleep, timeout, timeout_at, Instant};
use vidseed_loadtest::rng::Rng;

use crate::messages::{build_announce, build_answer, build_scrape, classify, Incoming, OfferRef};
use crate::options::{source_addr, Target};
use crate::stats::Stats;
use crate::torrents::{torrent_index, Gamma};

/// Pause after a failed connect or a dropped connection.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(50);
/// Torrents in one scrape (aquatic's value).
const SCRAPE_HASHES: usize = 5;
/// Largest message accepted from a server.
const MAX_MESSAGE: usize = 1 << 20;

pub type Stream = tokio_util::either::Either<TcpStream, tokio_rustls::client::TlsStream<TcpStream>>;
pub type Ws = FragmentCollector<Stream>;

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

pub struct Shared {
    pub target: Target,
    pub hashes: Vec<[u8; 20]>,
    pub gamma: Gamma,
    pub offers: usize,
    pub seeder_ratio: f64,
    pub announce_weight: u32,
    pub scrape_weight: u32,
    pub seed: u64,
    pub source_ips: usize,
    pub stall: Duration,
    pub timeout: Duration,
    pub connect_slots: Semaphore,
    /// Messages read so far by all connections (for the interval reports).
    pub live_responses: AtomicU64,
}

impl Shared {
    fn pick_torrent(&self, rng: &mut Rng) -> &[u8; 20] {
        &self.hashes[torrent_index(self.gamma.sample(rng), self.hashes.len())]
    }
}

/// Opens connection number `i`: TCP (from its source address), then the WebSocket handshake,
/// written and read by hand so that no HTTP library sits between the client and the socket.
pub async fn connect(sh: &Shared, i: usize) -> Result<Ws> {
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
pub async fn run_connection(i: usize, sh: Arc<Shared>, first: Option<Ws>, deadline: Instant) -> Stats {
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
pub async fn idle_connection(
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
