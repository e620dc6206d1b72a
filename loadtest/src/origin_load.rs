//! `origin-load`: how fast vidseed, as an origin, federates its own videos (does I/O).
//!
//! `--followers` remote actors live here, each on its own loopback address (127.0.x.y) with its
//! own inbox: every follower is a host and a delivery, as distinct instances are. Each sends a
//! signed Follow to vidseed's account (`/accounts/vidseed`, whose followers get the `Create`;
//! the instance and the channel `Announce` it to everyone), and the run waits for every Accept.
//! Then, against a `vidseed serve` whose media folder is `--media` (rescanned every second):
//!
//! 1. **Latency**, `--latency-runs` times, one file at a time: the clip (`--clip`, a real MP4)
//!    is linked into the media folder under a new name, and the time is taken until the first
//!    follower, then every follower, has received the `Create` naming it.
//! 2. **Cost**: `--videos` files land at once; every `Create` and `Announce` delivered is
//!    counted until all expected ones (3 per video per follower) arrived or nothing came for
//!    `--stall-secs`. Reported: deliveries per second over the delivery window, vidseed's CPU
//!    (process `--pid`, all its work: scan, hash, store, sign, send) per delivery and per video,
//!    and this generator's own CPU beside it (it shares the machine). With `--max-secs` the run
//!    ends after that long (a run of millions of deliveries lasts hours), and the *steady*
//!    figures — deliveries per second and CPU per delivery over the second half of the window,
//!    when the videos' own work (scan, hash, queueing) is behind — stand for the whole.
//!
//! Output: a table of figures, and a JSON object as the last line with `--json`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use vidseed_control_plane::activitypub::http_signature::{date_header, digest, signature_header, SignRequest};
use vidseed_control_plane::activitypub::keys::InstanceKeys;
use vidseed_loadtest::run::{self, cpu_seconds_of, own_cpu_seconds, Printed};

#[derive(Parser, Debug)]
#[command(about = "Latency and cost of federating vidseed's own videos to its followers")]
struct Args {
    /// The vidseed control plane (http://127.0.0.1:PORT, started with --allow-private-federation).
    #[arg(long)]
    target: String,
    /// Its media folder (files are linked into it).
    #[arg(long)]
    media: PathBuf,
    /// A real video file (MP4 or WebM) to publish under new names.
    #[arg(long)]
    clip: PathBuf,
    /// vidseed's process id, for its CPU time.
    #[arg(long)]
    pid: u32,
    /// Remote followers, each with its own inbox.
    #[arg(long, default_value_t = 100)]
    followers: usize,
    /// Videos published at once in the cost run.
    #[arg(long, default_value_t = 10_000)]
    videos: usize,
    /// Files published one by one in the latency run.
    #[arg(long, default_value_t = 10)]
    latency_runs: usize,
    /// Give up when no delivery arrived for this long.
    #[arg(long, default_value_t = 60)]
    stall_secs: u64,
    /// End the cost run after this many seconds even if deliveries remain (0: run to the end);
    /// the steady figures then come from the window's second half.
    #[arg(long, default_value_t = 0)]
    max_secs: u64,
    /// Print a JSON object at the end.
    #[arg(long)]
    json: bool,
}

/// What the followers' inboxes received.
#[derive(Default)]
struct Inboxes {
    accepts: AtomicU64,
    creates: AtomicU64,
    announces: AtomicU64,
    others: AtomicU64,
    /// Nanoseconds since `epoch` of the last Create or Announce.
    last_ns: AtomicU64,
    /// The latency run's file: its name, and who got its Create when.
    watch: Mutex<Option<Watch>>,
}

struct Watch {
    token: String,
    start: Instant,
    first: Option<Duration>,
    reached: Vec<bool>,
    count: usize,
    all: Option<Duration>,
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

impl Inboxes {
    fn received(&self, follower: usize, body: &[u8], epoch: Instant) {
        if std::env::var_os("ORIGIN_LOAD_DEBUG").is_some() {
            eprintln!("{:.3} {follower}: {}", epoch.elapsed().as_secs_f64(), String::from_utf8_lossy(&body[body.len().saturating_sub(300)..]));
        }
        // The activity's own type comes first in what vidseed writes; the object may name others.
        const KINDS: [(&str, &[u8]); 3] = [("Create", br#""type":"Create""#), ("Announce", br#""type":"Announce""#), ("Accept", br#""type":"Accept""#)];
        let kind = KINDS.iter().filter_map(|(k, pat)| body.windows(pat.len()).position(|w| w == *pat).map(|p| (p, *k))).min().map(|(_, k)| k);
        match kind {
            Some("Accept") => {
                self.accepts.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Some("Create") => self.creates.fetch_add(1, Ordering::Relaxed),
            Some("Announce") => self.announces.fetch_add(1, Ordering::Relaxed),
            _ => {
                self.others.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        self.last_ns.store(epoch.elapsed().as_nanos() as u64, Ordering::Relaxed);
        if kind != Some("Create") {
            return;
        }
        let mut watch = self.watch.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = watch.as_mut().filter(|w| contains(body, w.token.as_bytes())) {
            let at = w.start.elapsed();
            w.first.get_or_insert(at);
            if let Some(seen) = w.reached.get_mut(follower).filter(|s| !**s) {
                *seen = true;
                w.count += 1;
                if w.count == w.reached.len() {
                    w.all = Some(at);
                }
            }
        }
    }
}

fn actor_doc(base: &str, i: usize, pem: &str) -> Bytes {
    let id = format!("{base}/actors/f{i}");
    Bytes::from(
        json!({
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "type": "Application", "id": id, "preferredUsername": format!("f{i}"), "name": format!("follower {i}"),
            "inbox": format!("{id}/inbox"), "outbox": format!("{id}/outbox"),
            "followers": format!("{id}/followers"), "following": format!("{id}/following"),
            "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": pem},
        })
        .to_string(),
    )
}

/// Which follower a path names (`/actors/f<i>` or `/actors/f<i>/inbox`).
fn follower_of(path: &str) -> Option<usize> {
    let rest = path.strip_prefix("/actors/f")?;
    rest.split(['/', '#']).next()?.parse().ok()
}

/// The followers' actors and inboxes on loopback, follower `i` on its own address
/// (127.0.x.y: a host of its own, as distinct instances are); returns their base URLs.
async fn serve_followers(n: usize, pem: String, inboxes: Arc<Inboxes>, epoch: Instant) -> Result<Vec<String>> {
    let pem = Arc::new(pem);
    let mut bases = Vec::with_capacity(n);
    for i in 0..n {
        let ip = std::net::Ipv4Addr::new(127, 0, (i / 200) as u8 + 1, (i % 200) as u8 + 2);
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.with_context(|| format!("cannot listen on {ip}"))?;
        let base = format!("http://{}", listener.local_addr()?);
        bases.push(base.clone());
        let (pem, inboxes) = (Arc::clone(&pem), Arc::clone(&inboxes));
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (base, pem, inboxes) = (base.clone(), Arc::clone(&pem), Arc::clone(&inboxes));
                tokio::spawn(async move {
                    let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let (base, pem, inboxes) = (base.clone(), Arc::clone(&pem), Arc::clone(&inboxes));
                        async move {
                            let who = follower_of(req.uri().path()).filter(|w| *w == i);
                            let post = req.method() == http::Method::POST;
                            let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            let res = match (who, post) {
                                (Some(i), true) => {
                                    inboxes.received(i, &body, epoch);
                                    http::Response::builder().status(204).body(Full::new(Bytes::new()))
                                }
                                (Some(i), false) => http::Response::builder().header("content-type", "application/activity+json").body(Full::new(actor_doc(&base, i, &pem))),
                                (None, _) => http::Response::builder().status(404).body(Full::new(Bytes::new())),
                            };
                            Ok::<_, std::convert::Infallible>(res.unwrap_or_default())
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
    }
    Ok(bases)
}

async fn get_json(addr: SocketAddr, authority: &str, path: &str) -> Result<Value> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = http::Request::get(path).header("host", authority).header("accept", "application/activity+json").body(Full::new(Bytes::new()))?;
    let res = sender.send_request(req).await?;
    let status = res.status();
    let body = res.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        bail!("GET {path}: {status}");
    }
    Ok(serde_json::from_slice(&body)?)
}

/// Every follower sends a signed Follow of `account` to `inbox`.
async fn follow_all(addr: SocketAddr, authority: &str, keys: &InstanceKeys, bases: &[String], account: &str, inbox_path: &str) -> Result<()> {
    for (i, base) in bases.iter().enumerate() {
        // A connection each: the inbox may close one after answering.
        let stream = tokio::net::TcpStream::connect(addr).await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        let actor = format!("{base}/actors/f{i}");
        let body = json!({"@context": "https://www.w3.org/ns/activitystreams", "type": "Follow", "id": format!("{actor}/follows/1"), "actor": actor, "object": account}).to_string();
        let d = digest(body.as_bytes());
        let date = date_header(SystemTime::now());
        let sig = signature_header(keys, &format!("{actor}#main-key"), &SignRequest { method: "POST", path: inbox_path, host: authority, date: &date, digest: Some(&d) });
        let req = http::Request::post(inbox_path)
            .header("host", authority)
            .header("date", date)
            .header("digest", d)
            .header("signature", sig)
            .header("content-type", "application/activity+json")
            .body(Full::new(Bytes::from(body)))?;
        let res = sender.send_request(req).await?;
        let status = res.status();
        let text = res.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            bail!("follower {i}'s Follow was refused: {status} {}", String::from_utf8_lossy(&text));
        }
    }
    Ok(())
}

fn link(clip: &Path, to: &Path) -> Result<()> {
    if std::fs::hard_link(clip, to).is_err() {
        std::fs::copy(clip, to).with_context(|| format!("cannot copy {} to {}", clip.display(), to.display()))?;
    }
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Result<()> {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > limit {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

async fn measure(args: Args) -> Result<Printed> {
    let Some(authority) = args.target.strip_prefix("http://").map(|a| a.trim_end_matches('/').to_owned()) else {
        bail!("--target must be http://HOST:PORT on loopback");
    };
    let addr: SocketAddr = tokio::net::lookup_host(&authority).await?.next().context("the target's address")?;
    let ext = args.clip.extension().and_then(|e| e.to_str()).unwrap_or("mp4").to_owned();
    let epoch = Instant::now();
    let keys = InstanceKeys::generate().map_err(|e| anyhow::anyhow!("{e}"))?;
    let inboxes = Arc::new(Inboxes::default());
    let bases = serve_followers(args.followers, keys.public_pem().to_owned(), Arc::clone(&inboxes), epoch).await?;
    let account = get_json(addr, &authority, "/accounts/vidseed").await.context("vidseed's account actor")?;
    let (Some(account_id), Some(inbox)) = (account["id"].as_str(), account["inbox"].as_str()) else {
        bail!("the account actor has no id or inbox: {account}");
    };
    let inbox_path = inbox.find("://").and_then(|s| inbox[s + 3..].find('/').map(|p| &inbox[s + 3 + p..])).unwrap_or("/inbox").to_owned();
    follow_all(addr, &authority, &keys, &bases, account_id, &inbox_path).await?;
    let want = args.followers as u64;
    until("every Accept", Duration::from_secs(120), || inboxes.accepts.load(Ordering::Relaxed) >= want).await?;
    let mut text = format!("{} followers of {account_id}, each on its own host\n", args.followers);

    // 1. Latency, one file at a time.
    let nonce = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let (mut firsts, mut alls) = (Vec::new(), Vec::new());
    for r in 0..args.latency_runs {
        let token = format!("lat{r:03}x{nonce}");
        *inboxes.watch.lock().unwrap_or_else(|e| e.into_inner()) = Some(Watch { token: token.clone(), start: Instant::now(), first: None, reached: vec![false; args.followers], count: 0, all: None });
        link(&args.clip, &args.media.join(format!("{token}.{ext}")))?;
        let reached = || inboxes.watch.lock().unwrap_or_else(|e| e.into_inner()).as_ref().and_then(|w| w.all.zip(w.first));
        until(&format!("the Create of {token} at every follower"), Duration::from_secs(120), || reached().is_some()).await?;
        let (all, first) = reached().context("reached")?;
        firsts.push(first.as_secs_f64() * 1e3);
        alls.push(all.as_secs_f64() * 1e3);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    *inboxes.watch.lock().unwrap_or_else(|e| e.into_inner()) = None;
    let sorted = |v: &Vec<f64>| {
        let mut s = v.clone();
        s.sort_by(f64::total_cmp);
        s
    };
    let (f, a) = (sorted(&firsts), sorted(&alls));
    if args.latency_runs > 0 {
        text += &format!("file lands -> Create at the first follower: median {:.0} ms, max {:.0} ms ({} files)\n", percentile(&f, 0.5), percentile(&f, 1.0), f.len());
        text += &format!("file lands -> Create at all {} followers: median {:.0} ms, max {:.0} ms\n", args.followers, percentile(&a, 0.5), percentile(&a, 1.0));
    }

    // 2. Cost: many files at once.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let delivered = || inboxes.creates.load(Ordering::Relaxed) + inboxes.announces.load(Ordering::Relaxed);
    let before = delivered();
    let expected = args.videos as u64 * args.followers as u64 * 3;
    let bulk = args.media.join(format!("bulk{nonce}"));
    let staging = args.media.parent().unwrap_or(Path::new("/tmp")).join(format!(".staging{nonce}"));
    std::fs::create_dir_all(&staging)?;
    for k in 0..args.videos {
        link(&args.clip, &staging.join(format!("v{k:05}.{ext}")))?;
    }
    let (cpu0, own0) = (cpu_seconds_of(args.pid).context("vidseed's CPU time (is --pid right?)")?, own_cpu_seconds().unwrap_or(0.0));
    let t0 = Instant::now();
    let t0_ns = epoch.elapsed().as_nanos() as u64;
    // One rename: the folder appears whole to the next rescan.
    std::fs::rename(&staging, &bulk)?;
    let stall = Duration::from_secs(args.stall_secs);
    let limit = (args.max_secs > 0).then(|| Duration::from_secs(args.max_secs));
    let mut progress = (delivered(), Instant::now());
    let mut first_at: Option<Duration> = None;
    let mut cpu_at_last = cpu0;
    // (seconds since the landing, deliveries, vidseed's CPU seconds), once a second.
    let mut samples: Vec<(f64, u64, f64)> = vec![(0.0, 0, cpu0)];
    let mut ended_by_limit = false;
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = delivered();
        if now > before && first_at.is_none() {
            first_at = Some(t0.elapsed());
        }
        if now != progress.0 {
            progress = (now, Instant::now());
            cpu_at_last = cpu_seconds_of(args.pid).unwrap_or(cpu_at_last);
        }
        let elapsed = t0.elapsed().as_secs_f64();
        if elapsed - samples.last().map_or(0.0, |s| s.0) >= 1.0 {
            samples.push((elapsed, now - before, cpu_seconds_of(args.pid).unwrap_or(cpu_at_last)));
        }
        if now - before >= expected || progress.1.elapsed() > stall {
            break;
        }
        if limit.is_some_and(|l| t0.elapsed() >= l) {
            ended_by_limit = true;
            samples.push((elapsed, now - before, cpu_seconds_of(args.pid).unwrap_or(cpu_at_last)));
            cpu_at_last = samples.last().map_or(cpu_at_last, |s| s.2);
            break;
        }
    }
    let got = delivered() - before;
    let last_ns = inboxes.last_ns.load(Ordering::Relaxed).max(t0_ns);
    let total_s = if ended_by_limit { t0.elapsed().as_secs_f64() } else { (last_ns - t0_ns) as f64 / 1e9 };
    let first_s = first_at.map_or(total_s, |d| d.as_secs_f64());
    let window = (total_s - first_s).max(1e-3);
    let cpu = cpu_at_last - cpu0;
    let own = own_cpu_seconds().unwrap_or(0.0) - own0;
    let code = if got >= expected || ended_by_limit { ExitCode::SUCCESS } else { ExitCode::from(1) };
    text += &format!("{} videos at once: {got} of {expected} deliveries (Create + 2 Announce per video per follower) in {total_s:.1} s, the first after {first_s:.1} s\n", args.videos);
    text += &format!("deliveries per second (first to last): {:.0}\n", got as f64 / window);
    text += &format!("vidseed CPU: {cpu:.1} s in all, {:.0} µs per delivery, {:.1} ms per video\n", cpu / got.max(1) as f64 * 1e6, cpu / args.videos.max(1) as f64 * 1e3);
    text += &format!("this generator's CPU (followers' inboxes): {own:.1} s\n");
    let steady = steady_half(&samples, first_s);
    if let Some((rate, cpu_per)) = steady {
        text += &format!("steady (second half of the window): {rate:.0} deliveries/s, {:.0} µs of vidseed CPU per delivery\n", cpu_per * 1e6);
    }
    if ended_by_limit {
        text += &format!("PARTIAL: ended after --max-secs {} with {} deliveries to go\n", args.max_secs, expected.saturating_sub(got));
    } else if got < expected {
        text += &format!("INCOMPLETE: nothing arrived for {} s\n", args.stall_secs);
    }
    if args.json {
        text += &format!(
            "{}\n",
            json!({
                "followers": args.followers, "videos": args.videos,
                "latency_first_ms_median": percentile(&f, 0.5), "latency_first_ms_max": percentile(&f, 1.0),
                "latency_all_ms_median": percentile(&a, 0.5), "latency_all_ms_max": percentile(&a, 1.0),
                "deliveries": got, "expected": expected, "seconds": total_s, "first_delivery_s": first_s,
                "deliveries_per_s": got as f64 / window, "vidseed_cpu_s": cpu,
                "cpu_us_per_delivery": cpu / got.max(1) as f64 * 1e6, "generator_cpu_s": own,
                "others": inboxes.others.load(Ordering::Relaxed),
                "partial": ended_by_limit,
                "steady_deliveries_per_s": steady.map(|s| s.0),
                "steady_cpu_us_per_delivery": steady.map(|s| s.1 * 1e6),
            })
        );
    }
    Ok(Printed { text, code })
}

/// Deliveries per second and CPU seconds per delivery between the middle of the delivery window
/// (from the first delivery to the last sample) and its end; `None` when too little was sampled.
fn steady_half(samples: &[(f64, u64, f64)], first_s: f64) -> Option<(f64, f64)> {
    let end = *samples.last()?;
    let mid_t = first_s + (end.0 - first_s) / 2.0;
    let mid = *samples.iter().find(|s| s.0 >= mid_t)?;
    let (dt, dn, dc) = (end.0 - mid.0, end.1.saturating_sub(mid.1), end.2 - mid.2);
    (dt >= 2.0 && dn > 0).then(|| (dn as f64 / dt, dc / dn as f64))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let validated = if !args.media.is_dir() {
        Err(anyhow::anyhow!("--media {} is not a folder", args.media.display()))
    } else if !args.clip.is_file() {
        Err(anyhow::anyhow!("--clip {} is not a file", args.clip.display()))
    } else if args.followers == 0 {
        Err(anyhow::anyhow!("--followers must be at least 1"))
    } else {
        Ok(())
    };
    run::main("origin-load", validated, 1, measure(args))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn followers_are_found_by_path() {
        assert_eq!(follower_of("/actors/f12"), Some(12));
        assert_eq!(follower_of("/actors/f3/inbox"), Some(3));
        assert_eq!(follower_of("/actors/x"), None);
        assert_eq!(follower_of("/inbox"), None);
    }

    #[test]
    fn an_activity_is_counted_by_its_own_type_and_the_watched_file_once_per_follower() {
        let inboxes = Inboxes::default();
        let epoch = Instant::now();
        *inboxes.watch.lock().unwrap() = Some(Watch { token: "lat000".into(), start: Instant::now(), first: None, reached: vec![false; 2], count: 0, all: None });
        let create = br#"{"type":"Create","object":{"type":"Video","url":"http://x/static/webseed/lat000.mp4"}}"#;
        let announce = br#"{"type":"Announce","object":"http://x/videos/watch/u","x":{"type":"Create"}}"#;
        inboxes.received(0, create, epoch);
        inboxes.received(0, create, epoch);
        inboxes.received(1, announce, epoch);
        inboxes.received(1, br#"{"type":"Accept"}"#, epoch);
        assert_eq!((inboxes.creates.load(Ordering::Relaxed), inboxes.announces.load(Ordering::Relaxed), inboxes.accepts.load(Ordering::Relaxed)), (2, 1, 1));
        assert!(inboxes.watch.lock().unwrap().as_ref().unwrap().all.is_none(), "follower 1 has not had the Create");
        inboxes.received(1, create, epoch);
        let w = inboxes.watch.lock().unwrap();
        assert_eq!(w.as_ref().unwrap().count, 2);
        assert!(w.as_ref().unwrap().all.is_some());
    }

    #[test]
    fn the_steady_figures_come_from_the_second_half_of_the_delivery_window() {
        // First delivery at 10 s; 100/s and 2 ms each from then on, with a costly start.
        let mut samples = vec![(0.0, 0, 0.0)];
        for t in 1..=50u64 {
            let n = t.saturating_sub(10) * 100;
            samples.push((t as f64, n, 30.0 + n as f64 * 0.002));
        }
        let (rate, cpu) = steady_half(&samples, 10.0).unwrap();
        assert!((rate - 100.0).abs() < 1e-9, "{rate}");
        assert!((cpu - 0.002).abs() < 1e-9, "{cpu}");
        assert_eq!(steady_half(&samples[..2], 0.5), None, "too short a window");
    }
}
