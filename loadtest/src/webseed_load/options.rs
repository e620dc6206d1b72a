//! `webseed-load`'s command line: the options and their checks, the target URL (plain
//! `http://`, loopback only), and the random ranges each connection asks for. Pure.

use std::path::PathBuf;

use anyhow::{ensure, Context, Result};
use clap::Parser;
use vidseed_loadtest::rng::Rng;
use vidseed_loadtest::target::{parse_loopback, Target};

#[derive(Parser, Debug)]
#[command(
    name = "webseed-load",
    version,
    about = "HTTP/1.1 range-request load generator for WebSeed servers (loopback targets only)"
)]
pub struct Args {
    /// Target URL, `http://127.0.0.1:PORT/path`; the path is sent as given (percent-encoded).
    #[arg(long)]
    pub url: String,
    /// Number of keep-alive connections, each with one request in flight.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Worker threads of the tokio runtime (1: a current-thread runtime, one FIFO run queue).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Length of the run in seconds; the run stops by itself at the end.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Length of each requested range in bytes (shorter only if the file is smaller).
    #[arg(long, default_value_t = 16384)]
    pub range_size: u64,
    /// Size of the file in bytes; without it, a HEAD request reads `Content-Length`.
    #[arg(long)]
    pub file_size: Option<u64>,
    /// Range starts are random multiples of this many bytes.
    #[arg(long, default_value_t = 16384)]
    pub align: u64,
    /// Browser mix: send a CORS preflight (OPTIONS) on the same connection before every GET.
    #[arg(long)]
    pub preflight: bool,
    /// Seed of the range generator (each connection derives its own stream from it).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print one JSON object instead of the human-readable table.
    #[arg(long)]
    pub json: bool,
    /// Free-form name of the run, echoed in the report.
    #[arg(long, default_value = "")]
    pub label: String,
    /// Compare every body with this local copy of the file (costs CPU: correctness runs only).
    #[arg(long)]
    pub verify_file: Option<PathBuf>,
    /// Exit with status 1 if any error was counted (or no GET completed).
    #[arg(long)]
    pub fail_on_error: bool,
    /// Seconds one exchange (connect, or request and full response) may take before it counts
    /// as a timeout and the connection is dropped.
    #[arg(long, default_value_t = 10.0)]
    pub timeout: f64,
}

pub fn parse_url(url: &str) -> Result<Target> {
    let rest = url.strip_prefix("http://").context("only plain http:// URLs are supported")?;
    parse_loopback(rest, 80)
}

pub fn validate(a: &Args) -> Result<()> {
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

#[derive(Clone, Copy)]
pub struct RangePlan {
    pub file_size: u64,
    pub range_size: u64,
    pub align: u64,
    /// Number of aligned starts at which a full-length range still fits.
    pub starts: u64,
}

impl RangePlan {
    pub fn new(file_size: u64, range_size: u64, align: u64) -> Self {
        let starts = file_size.saturating_sub(range_size) / align + 1;
        RangePlan {
            file_size,
            range_size,
            align,
            starts,
        }
    }

    /// A random closed range `(first, last)`.
    pub fn pick(&self, rng: &mut Rng) -> (u64, u64) {
        let first = rng.below(self.starts) * self.align;
        let last = first.saturating_add(self.range_size).min(self.file_size) - 1;
        (first, last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn only_loopback_targets() {
        assert!(parse_url("http://127.0.0.1:8080/static/webseed/a%20b.mp4").is_ok());
        assert!(parse_url("http://10.0.0.1:80/").is_err());
        assert!(parse_url("https://127.0.0.1/").is_err());
        assert!(parse_url("http://127.0.0.1/a b").is_err());
    }
}
