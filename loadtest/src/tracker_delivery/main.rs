//! `tracker-delivery`: a WebTorrent tracker at full delivery (does I/O).
//!
//! `tracker-load` follows aquatic's closed loop — one message read per message sent — so a
//! tracker that drops what nobody reads looks fast. This generator is an open loop whose peers
//! read everything, as browsers do:
//!
//! * `--connections` peers, each in one of `--swarms` swarms (torrents from `--info-hash-file`,
//!   or random ones for an open tracker), join with one announce without offers;
//! * then, for `--duration` seconds, announces leave at the fixed total `--rate` per second,
//!   spread over the peers round robin by writer tasks of `--group` peers each, whatever the
//!   tracker does; each carries `--offers` offers (`numwant` as many) stamped with the send time;
//! * every peer reads every message; it answers every other offer it gets (the answer stamped
//!   too), so the tracker relays offers and answers;
//! * once no message came for `--quiet-ms` (the tracker has delivered all it will), the counts
//!   are compared with the exact expectations: one response per announce, one relayed answer per
//!   answer sent, no `failure reason`, no connection lost. A run in which the generator could not
//!   offer the rate (its core was full) gives no verdict. How long the tracker went on
//!   delivering after the load stopped is reported too: a tracker that queues what it cannot
//!   send delivers late rather than not at all.
//!
//! Reported: the offered and achieved rates, those expectations (and whether the run lost
//! nothing), offers relayed per announce, offer and answer relay latency (p50/p99/max, from
//! the stamps: one clock, one process), and with `--server-pid` the tracker's CPU per delivered
//! message (announce responses, offers and answers received). Messages are pre-encoded; sending
//! patches fixed-width ids and stamps in place, so the generator stays cheaper than the tracker.
//! Loopback targets only.

mod peer;
mod stats;
mod wire;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use clap::Parser;
use tokio::sync::Mutex;
use tokio::time::Instant;
use vidseed_loadtest::rng::Rng;
use vidseed_loadtest::run::{self, cpu_seconds_of, own_cpu_seconds, Printed};
use vidseed_loadtest::target::parse_loopback;

use peer::{announce_at_rate, open, read_all, Peer};
use stats::Counts;
use wire::{ascii_id, AnnounceFrame, AnswerFrame};

#[derive(Parser, Debug)]
#[command(name = "tracker-delivery", about = "WebTorrent tracker load at full delivery: an open loop whose peers read every message")]
struct Args {
    /// `ws://127.0.0.1:PORT/path` (loopback only).
    #[arg(long)]
    url: String,
    /// Peers, one WebSocket connection each.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Swarms the peers are spread over.
    #[arg(long, default_value_t = 100)]
    swarms: usize,
    /// Announces per second, all peers together.
    #[arg(long, default_value_t = 10_000.0)]
    rate: f64,
    /// Offers per announce.
    #[arg(long, default_value_t = 5)]
    offers: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Peers per writer task.
    #[arg(long, default_value_t = 100)]
    group: usize,
    /// Worker threads of the generator.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// The run ends once no message came for this long after the last announce.
    #[arg(long, default_value_t = 500)]
    quiet_ms: u64,
    /// File of 40-hex-digit info-hashes, one per line (a tracker with an allow-list needs them).
    #[arg(long)]
    info_hash_file: Option<std::path::PathBuf>,
    /// The tracker's process id, for its CPU time during the run.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Seed of the random info-hashes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Free-form name of the run, echoed in the report.
    #[arg(long, default_value = "")]
    label: String,
}

fn hashes(args: &Args) -> Result<Vec<[u8; 20]>> {
    let mut out = Vec::new();
    if let Some(path) = &args.info_hash_file {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            ensure!(line.len() == 40, "{}: {line:?} is not 40 hex digits", path.display());
            let mut h = [0u8; 20];
            for (i, b) in h.iter_mut().enumerate() {
                *b = u8::from_str_radix(&line[2 * i..2 * i + 2], 16).with_context(|| format!("{line:?} is not hex"))?;
            }
            out.push(h);
            if out.len() == args.swarms {
                break;
            }
        }
        ensure!(!out.is_empty(), "{} holds no info-hash", path.display());
    } else {
        let mut rng = Rng::new(args.seed);
        out.extend((0..args.swarms).map(|_| rng.bytes20()));
    }
    Ok(out)
}

fn validate(a: &Args) -> Result<()> {
    ensure!(a.connections >= 2, "--connections must be at least 2");
    ensure!(a.swarms >= 1 && a.swarms <= a.connections, "--swarms must be between 1 and --connections");
    ensure!(a.rate > 0.0 && a.rate.is_finite(), "--rate must be positive");
    ensure!(a.duration > 0.0 && a.duration.is_finite(), "--duration must be positive");
    ensure!(a.group >= 1 && a.threads >= 1, "--group and --threads must be at least 1");
    ensure!(a.url.starts_with("ws://"), "--url must be ws://127.0.0.1:PORT/path (TLS is not supported here)");
    Ok(())
}

/// Waits until the total of messages has not moved for `quiet`, at most `limit`; returns when
/// it last moved.
async fn until_quiet(groups: &[Arc<std::sync::Mutex<Counts>>], quiet: Duration, limit: Duration) -> Instant {
    let total = || groups.iter().map(|g| g.lock().unwrap_or_else(|e| e.into_inner()).messages()).sum::<u64>();
    let start = Instant::now();
    let mut last = (total(), Instant::now());
    while start.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = total();
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() >= quiet {
            break;
        }
    }
    last.1
}

fn snapshot(groups: &[Arc<std::sync::Mutex<Counts>>]) -> Counts {
    let mut all = Counts::default();
    for g in groups {
        all.merge(&g.lock().unwrap_or_else(|e| e.into_inner()));
    }
    all
}

async fn measure(args: Args) -> Result<Printed> {
    let target = parse_loopback(args.url.trim_start_matches("ws://"), 80)?;
    let hashes = hashes(&args)?;
    let epoch = Instant::now();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let groups: Vec<Arc<std::sync::Mutex<Counts>>> = (0..args.connections.div_ceil(args.group)).map(|_| Arc::default()).collect();

    // Connect every peer (128 handshakes at once) and start its reader.
    let mut peers: Vec<Option<Peer>> = Vec::with_capacity(args.connections);
    let mut joins = Vec::with_capacity(args.connections);
    let mut readers = Vec::with_capacity(args.connections);
    let slots = Arc::new(tokio::sync::Semaphore::new(128));
    let mut opening = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        let (slots, host, path, addr) = (Arc::clone(&slots), target.host.clone(), target.path.clone(), target.addr);
        opening.push(tokio::spawn(async move {
            let _slot = slots.acquire().await;
            open(addr, &host, &path).await
        }));
    }
    for (i, o) in opening.into_iter().enumerate() {
        let (reader, writer, rest) = o.await?.with_context(|| format!("peer {i}"))?;
        let (ih, id) = (hashes[i % hashes.len()], ascii_id(b'p', i as u64));
        let sender = Arc::new(Mutex::new(writer));
        readers.push(tokio::spawn(read_all(reader, rest, Arc::clone(&sender), AnswerFrame::new(&ih, &id), epoch, Arc::clone(&groups[i / args.group]), stop_rx.clone())));
        joins.push((Arc::clone(&sender), AnnounceFrame::new(&ih, &id, 0)));
        peers.push(Some(Peer { announce: AnnounceFrame::new(&ih, &id, args.offers), sender, next_offer: (i as u64) << 32 }));
    }
    // Join the swarms: one announce without offers each, answered before the load starts.
    for (sender, join) in &joins {
        tokio::io::AsyncWriteExt::write_all(&mut *sender.lock().await, &join.frame).await.context("joining")?;
    }
    let joined = args.connections as u64;
    let deadline = Instant::now() + Duration::from_secs(20);
    while snapshot(&groups).announced < joined && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    until_quiet(&groups, Duration::from_millis(args.quiet_ms), Duration::from_secs(5)).await;
    let base = snapshot(&groups);
    let join_answered = base.announced;

    // The load.
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + Duration::from_secs_f64(args.duration);
    let (cpu0, own0) = (args.server_pid.and_then(cpu_seconds_of), own_cpu_seconds());
    let n_groups = groups.len();
    let mut writers = Vec::new();
    for g in 0..n_groups {
        let members: Vec<Peer> = peers[g * args.group..((g + 1) * args.group).min(args.connections)].iter_mut().filter_map(Option::take).collect();
        let rate = args.rate * members.len() as f64 / args.connections as f64;
        writers.push(tokio::spawn(announce_at_rate(members, rate, epoch, start, end)));
    }
    let (mut sent, mut missed) = (0u64, 0u64);
    for w in writers {
        let (s, m) = w.await?;
        sent += s;
        missed += m;
    }
    let load_s = start.elapsed().as_secs_f64().min(args.duration.max(1e-3));
    let last_message = until_quiet(&groups, Duration::from_millis(args.quiet_ms), Duration::from_secs(30)).await;
    // How long the tracker went on delivering after the load stopped: a tracker that queues
    // what it cannot send in time delivers it late rather than not at all.
    let drain_s = last_message.saturating_duration_since(end).as_secs_f64();
    let (cpu1, own1) = (args.server_pid.and_then(cpu_seconds_of), own_cpu_seconds());
    // The readers hand over their last counts and latencies as they stop.
    let _ = stop_tx.send(true);
    for r in readers {
        let _ = r.await;
    }
    let c = snapshot(&groups).since(&base);

    let missing_responses = sent.saturating_sub(c.announced);
    let missing_answers = c.answers_sent.saturating_sub(c.answers);
    // Lost by the tracker; what the generator could not send makes the run say nothing.
    let lost = missing_responses + missing_answers + c.failures + c.closed + c.broken;
    let generator_limited = missed > 0;
    let delivered = c.announced + c.offers + c.answers;
    let server_cpu = cpu0.zip(cpu1).map(|(a, b)| b - a);
    let own_cpu = own0.zip(own1).map(|(a, b)| b - a);
    let q = |h: &stats::Hist, p: f64| h.quantile(p).map_or(-1.0, |v| v as f64 / 1000.0);
    let report = serde_json::json!({
        "label": args.label, "connections": args.connections, "swarms": hashes.len(), "offers": args.offers,
        "offered_rate": args.rate, "sent_rate": sent as f64 / load_s, "seconds": load_s,
        "joined": join_answered, "announces_sent": sent, "not_sent": missed,
        "announce_responses": c.announced, "missing_responses": missing_responses,
        "offers_relayed": c.offers, "offers_per_announce": c.offers as f64 / sent.max(1) as f64,
        "answers_sent": c.answers_sent, "answers_relayed": c.answers, "missing_answers": missing_answers,
        "failures": c.failures, "other": c.other, "closed": c.closed + c.broken,
        "lost": lost, "generator_limited": generator_limited, "zero_loss": lost == 0 && !generator_limited, "drain_s": drain_s,
        "delivered_messages": delivered, "delivered_per_s": delivered as f64 / load_s,
        "offer_relay_ms": { "p50": q(&c.offer_relay, 0.5), "p99": q(&c.offer_relay, 0.99), "max": q(&c.offer_relay, 1.0) },
        "answer_relay_ms": { "p50": q(&c.answer_relay, 0.5), "p99": q(&c.answer_relay, 0.99), "max": q(&c.answer_relay, 1.0) },
        "server_cpu_s": server_cpu, "server_cpu_us_per_delivered": server_cpu.map(|s| s * 1e6 / delivered.max(1) as f64),
        "generator_cpu_s": own_cpu, "relay_samples": c.offer_relay.count() + c.answer_relay.count(),
    });
    let text = if args.json {
        format!("{report}\n")
    } else {
        let mut t = String::new();
        t += &format!("tracker-delivery {} — {} peers in {} swarms, {} offers per announce\n", args.label, args.connections, hashes.len(), args.offers);
        t += &format!("announces: offered {:.0}/s, sent {sent} ({:.0}/s), not sent {missed}\n", args.rate, sent as f64 / load_s);
        t += &format!("responses {} (missing {missing_responses}); offers relayed {} ({:.2} per announce); answers sent {}, relayed {} (missing {missing_answers})\n", c.announced, c.offers, c.offers as f64 / sent.max(1) as f64, c.answers_sent, c.answers);
        let verdict = match (lost, generator_limited) {
            (_, true) => "the generator could not offer the rate: no verdict",
            (0, false) => "ZERO LOSS",
            _ => "LOSS",
        };
        t += &format!("failures {}, connections lost {}: {verdict}; delivering went on {drain_s:.2} s after the load\n", c.failures, c.closed + c.broken);
        t += &format!("offer relay ms p50 {:.2} p99 {:.2} max {:.2}; answer relay ms p50 {:.2} p99 {:.2} max {:.2}\n", q(&c.offer_relay, 0.5), q(&c.offer_relay, 0.99), q(&c.offer_relay, 1.0), q(&c.answer_relay, 0.5), q(&c.answer_relay, 0.99), q(&c.answer_relay, 1.0));
        if let Some(s) = server_cpu {
            t += &format!("server CPU {s:.2} s: {:.2} µs per delivered message ({delivered} delivered)\n", s * 1e6 / delivered.max(1) as f64);
        }
        if let Some(s) = own_cpu {
            t += &format!("generator CPU {s:.2} s\n");
        }
        t
    };
    Ok(Printed { text, code: if lost == 0 && !generator_limited { ExitCode::SUCCESS } else { ExitCode::from(1) } })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let validated = validate(&args);
    let threads = args.threads;
    run::main("tracker-delivery", validated, threads, measure(args))
}
