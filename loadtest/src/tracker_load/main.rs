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

mod client;
mod messages;
mod options;
mod stats;
mod torrents;

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use tokio::sync::{watch, Semaphore};
use tokio::time::{sleep, Instant};

use client::{connect, idle_connection, run_connection, Shared};
use options::{load_hashes, parse_url, validate, Args};
use stats::{round1, Report, Stats};
use torrents::Gamma;
use vidseed_loadtest::run::{self, gather, own_cpu_seconds, Printed};

/// Handshakes in progress at once.
const CONNECT_PARALLELISM: usize = 128;

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
    let total = gather(setup, tasks, Stats::merge).await?;
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
    run::main("tracker-load", validate(&args), args.threads, async {
        let r = run(&args).await?;
        let text = if args.json { r.json() + "\n" } else { r.human() };
        Ok(Printed { text, code: ExitCode::SUCCESS })
    })
}
