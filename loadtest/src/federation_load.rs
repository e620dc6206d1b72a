//! `federation-load`: how fast vidseed signs and verifies, and how many signed activities its
//! inbox verifies and applies per second (does I/O).
//!
//! 1. Crypto rates in this process, for `--seconds` each: RSA-2048 signatures and verifications
//!    (what HTTP Signatures cost), an HTTP Signature header, and an RsaSignature2017 Linked Data
//!    signature and its verification (URDNA2015 canonicalisation included).
//! 2. With `--target http://HOST:PORT` (a vidseed control plane started with
//!    `--allow-private-federation`): a remote "instance" on loopback (its actor served here, its
//!    inbox counting what it receives) posts signed Follow activities to the target's inbox from
//!    `--concurrency` connections for `--seconds`; the target verifies each (HTTP Signature),
//!    stores it, and applies it (answers with a signed Accept, delivered to our inbox). Reported:
//!    activities accepted per second (204s) and applied per second (Accepts received).
//!
//! Output: one line per figure, and a JSON object with `--json`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use vidseed_control_plane::activitypub::http_signature::{date_header, digest, signature_header, SignRequest};
use vidseed_control_plane::activitypub::keys::{verify_sha256, InstanceKeys};
use vidseed_control_plane::activitypub::ld_signature;

#[derive(Parser, Debug)]
#[command(about = "Signing rates and inbox throughput of a vidseed instance")]
struct Args {
    /// A vidseed control plane to post to (http://127.0.0.1:PORT); without it, only the rates.
    #[arg(long)]
    target: Option<String>,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Connections posting at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Print a JSON object at the end.
    #[arg(long)]
    json: bool,
}

fn rate(seconds: u64, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(seconds) {
        f();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn rates(keys: &InstanceKeys, seconds: u64) -> Result<Value> {
    let data = b"(request-target): post /inbox\nhost: a.example\ndate: Fri, 27 Nov 2026 07:00:00 GMT\ndigest: SHA-256=x";
    let sig = keys.sign_sha256(data);
    let pem = keys.public_pem().to_owned();
    let sign = rate(seconds, || {
        std::hint::black_box(keys.sign_sha256(data));
    });
    let verify = rate(seconds, || {
        std::hint::black_box(verify_sha256(&pem, data, &sig).is_ok());
    });
    let date = date_header(SystemTime::now());
    let header = rate(seconds, || {
        std::hint::black_box(signature_header(
            keys,
            "https://a.example/accounts/peertube",
            &SignRequest { method: "POST", path: "/inbox", host: "b.example", date: &date, digest: Some("SHA-256=x") },
        ));
    });
    let doc = json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1", {"RsaSignature2017": "https://w3id.org/security#RsaSignature2017"}],
        "type": "Accept", "id": "https://a.example/accepts/follows/1", "actor": "https://a.example/accounts/peertube",
        "object": {"type": "Follow", "id": "https://b.example/accounts/peertube/follows/1", "actor": "https://b.example/accounts/peertube", "object": "https://a.example/accounts/peertube"}
    });
    let pair = ld_signature::private_key_from_pem(keys.private_pem()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let signed = ld_signature::sign(&doc, "https://a.example/accounts/peertube", "2026-11-27T07:00:00.000Z", &pair).map_err(|e| anyhow::anyhow!("{e}"))?;
    let ld_sign = rate(seconds, || {
        std::hint::black_box(ld_signature::sign(&doc, "https://a.example/accounts/peertube", "2026-11-27T07:00:00.000Z", &pair).ok());
    });
    let ld_verify = rate(seconds, || {
        std::hint::black_box(ld_signature::verify(&signed, &pem).is_ok());
    });
    Ok(json!({ "rsa_sign_per_s": sign, "rsa_verify_per_s": verify, "http_signature_headers_per_s": header, "ld_sign_per_s": ld_sign, "ld_verify_per_s": ld_verify }))
}

/// The remote instance's actor and inbox, on loopback; returns its base URL.
async fn serve_peer(keys: Arc<InstanceKeys>, received: Arc<AtomicU64>) -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let actor = format!("{base}/accounts/peertube");
    let doc = Bytes::from(
        json!({
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "type": "Application", "id": actor, "preferredUsername": "peertube", "inbox": format!("{actor}/inbox"),
            "publicKey": {"id": format!("{actor}#main-key"), "owner": actor, "publicKeyPem": keys.public_pem()},
        })
        .to_string(),
    );
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let (doc, received) = (doc.clone(), Arc::clone(&received));
            tokio::spawn(async move {
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let (doc, received) = (doc.clone(), Arc::clone(&received));
                    async move {
                        let post = req.method() == http::Method::POST;
                        let _ = req.into_body().collect().await;
                        let res = if post {
                            received.fetch_add(1, Ordering::Relaxed);
                            http::Response::builder().status(204).body(Full::new(Bytes::new()))
                        } else {
                            http::Response::builder().header("content-type", "application/activity+json").body(Full::new(doc))
                        };
                        Ok::<_, std::convert::Infallible>(res.unwrap_or_default())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    Ok(base)
}

async fn post_follows(target: &str, keys: Arc<InstanceKeys>, actor: String, seconds: u64, concurrency: usize) -> Result<(u64, u64, f64)> {
    let authority = target.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let addr: SocketAddr = tokio::net::lookup_host(&authority).await?.next().context("target address")?;
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let next = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (keys, actor, authority) = (Arc::clone(&keys), actor.clone(), authority.clone());
        let (ok, failed, next) = (Arc::clone(&ok), Arc::clone(&failed), Arc::clone(&next));
        let target_actor = format!("http://{authority}/accounts/peertube");
        tasks.push(tokio::spawn(async move {
            let Ok(stream) = tokio::net::TcpStream::connect(addr).await else { return };
            let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await else { return };
            tokio::spawn(conn);
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let body = json!({"@context": "https://www.w3.org/ns/activitystreams", "type": "Follow", "id": format!("{actor}/follows/{n}"), "actor": actor, "object": target_actor}).to_string();
                let d = digest(body.as_bytes());
                let date = date_header(SystemTime::now());
                let sig = signature_header(&keys, &actor, &SignRequest { method: "POST", path: "/inbox", host: &authority, date: &date, digest: Some(&d) });
                let req = http::Request::post("/inbox")
                    .header("host", authority.as_str())
                    .header("date", date)
                    .header("digest", d)
                    .header("signature", sig)
                    .header("content-type", "application/activity+json")
                    .body(Full::new(Bytes::from(body)));
                let Ok(req) = req else { break };
                match sender.send_request(req).await {
                    Ok(res) if res.status() == 204 => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        let _ = res.into_body().collect().await;
                    }
                    Ok(res) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        let _ = res.into_body().collect().await;
                    }
                    Err(_) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    Ok((ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed), start.elapsed().as_secs_f64()))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let keys = Arc::new(InstanceKeys::generate().map_err(|e| anyhow::anyhow!("{e}"))?);
    let k = Arc::clone(&keys);
    let seconds = args.seconds;
    let mut out = tokio::task::spawn_blocking(move || rates(&k, seconds)).await??;
    for (k, v) in out.as_object().into_iter().flatten() {
        println!("{k:<30} {:>10.0}", v.as_f64().unwrap_or(0.0));
    }
    if let Some(target) = &args.target {
        if !target.starts_with("http://") {
            bail!("--target must be http://HOST:PORT on loopback");
        }
        let received = Arc::new(AtomicU64::new(0));
        let base = serve_peer(Arc::clone(&keys), Arc::clone(&received)).await?;
        let actor = format!("{base}/accounts/peertube");
        let (ok, failed, elapsed) = post_follows(target, Arc::clone(&keys), actor, args.seconds, args.concurrency).await?;
        // Applied: every accepted Follow is answered with an Accept delivered to our inbox.
        let mut last = (received.load(Ordering::Relaxed), Instant::now());
        let waited = Instant::now();
        while received.load(Ordering::Relaxed) < ok && waited.elapsed() < Duration::from_secs(120) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = received.load(Ordering::Relaxed);
            if now != last.0 {
                last = (now, Instant::now());
            } else if last.1.elapsed() > Duration::from_secs(10) {
                break;
            }
        }
        let applied = received.load(Ordering::Relaxed);
        let applied_elapsed = elapsed + last.1.duration_since(waited).as_secs_f64().max(0.0);
        println!("{:<30} {:>10.0}   ({ok} in {elapsed:.1} s, {failed} refused)", "inbox_accepted_per_s", ok as f64 / elapsed);
        println!("{:<30} {:>10.0}   ({applied} Accepts received in {applied_elapsed:.1} s)", "inbox_applied_per_s", applied as f64 / applied_elapsed);
        out["inbox_accepted_per_s"] = json!(ok as f64 / elapsed);
        out["inbox_refused"] = json!(failed);
        out["inbox_applied_per_s"] = json!(applied as f64 / applied_elapsed);
        out["inbox_applied"] = json!(applied);
    }
    if args.json {
        println!("{out}");
    }
    Ok(())
}
