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

mod client;
mod http;
mod options;
mod stats;

use std::fs::File;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use clap::Parser;
use tokio::time::Instant;

use client::{head_file_size, run_connection, Shared};
use http::ORIGIN;
use options::{parse_url, validate, Args, RangePlan};
use stats::{Report, Stats};
use vidseed_loadtest::run::{self, gather, Printed};

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
    let total = gather(Stats::default(), tasks, Stats::merge).await?;
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
    run::main("webseed-load", validate(&args), args.threads, async {
        let mut report = run(&args).await?;
        let text = if args.json { report.json() + "\n" } else { report.human() };
        let failed = report.st.error_total() > 0 || report.st.gets == 0;
        Ok(Printed { text, code: if failed && args.fail_on_error { ExitCode::from(1) } else { ExitCode::SUCCESS } })
    })
}
