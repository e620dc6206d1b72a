//! `tracker-load`'s command line and what it names: the options and their checks, the target
//! URL (loopback only), the source addresses connections are spread over, and the info-hashes
//! to announce on (random, or read from a file). Pure but for reading that file.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::{ensure, Context, Result};
use clap::Parser;
use vidseed_loadtest::rng::Rng;
use vidseed_loadtest::target::parse_loopback;

#[derive(Parser, Debug)]
#[command(
    name = "tracker-load",
    version,
    about = "WebTorrent (WebSocket) tracker load generator, aquatic_ws_load_test's loop over ws:// (loopback targets only)"
)]
pub struct Args {
    /// Target URL, `ws://127.0.0.1:PORT/path` (e.g. `/tracker/socket`) or `wss://…` (TLS;
    /// certificates are not verified — loopback test servers only).
    #[arg(long)]
    pub url: String,
    /// Number of WebSocket connections (one peer each).
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Worker threads of the tokio runtime (1: a current-thread runtime, one FIFO run queue).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Length of the measured run in seconds, counted once all connections are open (with
    /// `--idle`: how long the idle peers stay connected after announcing).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Number of random info-hashes to announce on (ignored with `--info-hash-file`).
    #[arg(long, default_value_t = 10_000)]
    pub torrents: usize,
    /// File with one 40-hex-digit info-hash per line (blank lines and `#` comments skipped):
    /// announce on these instead of random ones (a tracker with an allow-list needs this).
    #[arg(long)]
    pub info_hash_file: Option<PathBuf>,
    /// Offers in each announce.
    #[arg(long, default_value_t = 10)]
    pub offers: usize,
    /// Probability that an announce is `completed` with `left: 0` instead of `started`/`left: 50`.
    #[arg(long, default_value_t = 0.25)]
    pub seeder_ratio: f64,
    /// Relative weight of scrape requests (5 info-hashes each).
    #[arg(long, default_value_t = 0)]
    pub scrape_weight: u32,
    /// Relative weight of announce requests.
    #[arg(long, default_value_t = 5)]
    pub announce_weight: u32,
    /// Seed of all random choices (peer ids, torrents, offer ids).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Spread the connections over this many local source addresses 127.0.1.1, 127.0.1.2, …
    /// (round robin), for servers that limit connections or announces per IP address.
    #[arg(long, default_value_t = 1)]
    pub source_ips: usize,
    /// A connection that gets no message for this many seconds sends its next request anyway
    /// (counted as a stall; a tracker that sends nothing back to an answer can stall the loop).
    #[arg(long, default_value_t = 2.0)]
    pub stall_timeout: f64,
    /// Seconds a connect plus WebSocket handshake may take.
    #[arg(long, default_value_t = 10.0)]
    pub timeout: f64,
    /// Idle-peer mode: every connection announces once (`started`, no offers, torrents taken in
    /// turn) and then stays open for `--duration` seconds without sending anything.
    #[arg(long)]
    pub idle: bool,
    /// With `--idle`: create this file once every connection has announced (or given up), so a
    /// script can measure the server while the peers are held.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
    /// Print one JSON object instead of the human-readable report.
    #[arg(long)]
    pub json: bool,
    /// Every this many seconds, print the responses per second of the last interval to stderr
    /// (and list them in the report), as aquatic's tool does every 5 s; 0: off.
    #[arg(long, default_value_t = 0.0)]
    pub report_every: f64,
    /// Free-form name of the run, echoed in the report.
    #[arg(long, default_value = "")]
    pub label: String,
}


pub struct Target {
    pub addr: SocketAddr,
    /// `wss://`: TLS (certificates are not verified: targets are loopback test servers, often
    /// with self-signed certificates, as aquatic_ws_load_test does).
    pub tls: bool,
    /// The host name for TLS's server name indication.
    pub server_name: String,
    /// Value of the `Host` header (the authority as written in the URL).
    pub host: String,
    /// Request target of the upgrade request.
    pub path: String,
}

pub fn parse_url(url: &str) -> Result<Target> {
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
pub fn source_addr(i: usize, n: usize) -> Option<IpAddr> {
    if n <= 1 {
        return None;
    }
    let j = i % n;
    let third = 1 + j / 250;
    let fourth = 1 + j % 250;
    Some(IpAddr::V4(Ipv4Addr::new(127, 0, third as u8, fourth as u8)))
}

pub fn load_hashes(args: &Args) -> Result<Vec<[u8; 20]>> {
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

pub fn validate(a: &Args) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
