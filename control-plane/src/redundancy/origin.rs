//! The origin's side (does I/O): CacheFiles other instances send for our videos. A Create or
//! Update is accepted as `accept_from` says (blocked hosts never), its id and URL on the
//! sender's host, for a video of our library; before it is advertised, a few pieces are read
//! back from the copy ([`check_copy`]) and must be our bytes. Accepted copies are kept until
//! their sender undoes them or they expire, and advertised as extra WebSeeds (the API, the
//! magnets' `ws=`, the torrents' url-list). A CacheFile taken (Create, Update, an Undo of a
//! kept copy) is forwarded to this instance's followers as received, as PeerTube does.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use http::StatusCode;
use serde_json::Value;

use super::cache_file::parse_received;
use super::engine::{RedundancyEngine, RedundancyError};
use super::probe::{check_hosts, our_video, probe_spans};
use crate::activitypub::fetch::{FetchError, Fetcher};
use crate::federation::FederationError;
use crate::activitypub::fetch::host_of;
use crate::library::timestamp_ms;
use crate::store::ReceivedCopyRecord;

/// Reads back `spans` (inclusive byte ranges) of the copy at `href` and compares them with the
/// same bytes of our `file`. A copy that cannot be reached now is a passing failure (the
/// activity is tried again later); one that answers other bytes is refused.
pub async fn check_copy(fetcher: &Fetcher, href: &str, file: &Path, spans: &[(u64, u64)]) -> Result<(), FederationError> {
    for &(start, end) in spans {
        let path = file.to_path_buf();
        let ours = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
            let mut f = std::fs::File::open(&path)?;
            f.seek(SeekFrom::Start(start))?;
            let mut buf = vec![0; usize::try_from(end - start + 1).unwrap_or(0)];
            f.read_exact(&mut buf)?;
            Ok(buf)
        })
        .await
        .map_err(|e| FederationError::Remote(e.to_string()))?
        .map_err(|e| FederationError::Unreachable(format!("cannot read our own file {}: {e}", file.display())))?;
        let (status, body) = fetcher.get_range(href, start, end).await.map_err(FederationError::from)?;
        let theirs = match status {
            StatusCode::PARTIAL_CONTENT => body,
            StatusCode::OK if body.len() as u64 > end => body.slice(start as usize..=end as usize),
            s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => return Err(FetchError::Status(href.to_owned(), s).into()),
            s => return Err(FederationError::Remote(format!("{href} answered {s} to a range read of bytes {start}-{end}"))),
        };
        if theirs.as_ref() != ours.as_slice() {
            return Err(FederationError::Remote(format!("{href} does not hold our bytes {start}-{end}: not advertised")));
        }
    }
    Ok(())
}

impl RedundancyEngine {
    /// A CacheFile activity (`kind`: Create, Update or Undo) received from `actor` (`body`: as
    /// it came). Once it is taken (a copy kept or updated, or undone), it is forwarded to this
    /// instance's followers, as PeerTube forwards CacheFiles of its own videos, so that they
    /// learn of the copy too.
    pub async fn received_cache_file(&self, actor: &str, kind: &str, activity: &Value, body: &str) -> Result<(), FederationError> {
        let taken = self.take_cache_file(actor, kind, activity).await?;
        if taken {
            let n = self.fed.forward(body, activity, actor).await?;
            if n > 0 {
                tracing::info!("{kind} CacheFile from {actor} forwarded to {n} follower inbox(es)");
            }
        }
        Ok(())
    }

    /// Applies a received CacheFile activity; whether it changed anything.
    async fn take_cache_file(&self, actor: &str, kind: &str, activity: &Value) -> Result<bool, FederationError> {
        let store = &self.fed.store;
        let object = activity.get("object").cloned().unwrap_or(Value::Null);
        if kind == "Undo" {
            // Undo{Create{CacheFile}}: matched by the CacheFile's id and its sender.
            let inner = object.get("object").cloned().unwrap_or(Value::Null);
            let id = inner.as_str().or_else(|| inner.get("id").and_then(Value::as_str)).unwrap_or_default();
            if !store.remove_received_copy(id, actor).await? {
                return Ok(false);
            }
            tracing::info!("{actor} no longer keeps a copy ({id})");
            self.refresh_advertised().await.map_err(fed)?;
            return Ok(true);
        }
        if !object.is_object() {
            return Err(FederationError::Remote("the CacheFile must be embedded in the activity".into()));
        }
        let copy = parse_received(&object).map_err(FederationError::Remote)?;
        let host = host_of(actor).ok_or_else(|| FederationError::Remote(format!("the actor {actor} is not a URL")))?;
        let policy = self.accept_from().await.map_err(fed)?;
        let followed = self.fed.follows_host(&host).await?;
        if !policy.accepts(followed, store.is_blocked(&host).await?) {
            return Err(FederationError::Remote(format!("copies from {host} are not accepted (accept_from: {})", policy.as_str())));
        }
        check_hosts(&copy.id, &copy.href, actor).map_err(FederationError::Remote)?;
        let base = &self.library.urls().control_http;
        // The Video's id: `/videos/watch/<uuid>` (as we federate it), or the info-hash URL of before.
        let by_uuid = copy
            .video_url
            .strip_prefix(base.trim_end_matches('/'))
            .and_then(|r| r.strip_prefix("/videos/watch/"))
            .and_then(|uuid| self.library.record_by_uuid(uuid.trim_end_matches('/')))
            .map(|v| v.info_hash);
        let ih = by_uuid
            .or_else(|| our_video(&copy.video_url, base))
            .ok_or_else(|| FederationError::Remote(format!("{} is not a video of this instance", copy.video_url)))?;
        let video = self.library.record_by_info_hash(&ih).ok_or_else(|| FederationError::Remote(format!("{} is not in the library", copy.video_url)))?;
        if copy.file.is_none() {
            return Err(FederationError::Remote("this instance publishes no HLS playlist of its videos".into()));
        }
        let previous = store.received_copy(&copy.id).await?;
        if previous.as_ref().is_some_and(|p| p.actor != actor) {
            return Err(FederationError::Remote(format!("{kind} of a copy {} another instance sent", copy.id)));
        }
        let now = timestamp_ms();
        let expires_at_ms = match &copy.expires {
            Some(e) => {
                let ms = crate::clock::parse_iso_8601(e).ok_or_else(|| FederationError::Remote(format!("expires {e:?} is not an ISO date")))?;
                if ms <= now {
                    return Err(FederationError::Remote(format!("the copy expired at {e}")));
                }
                Some(ms)
            }
            None => None,
        };
        // Read back a few pieces, unless this very URL was checked before.
        let checked_before = previous.as_ref().is_some_and(|p| p.href == copy.href && p.verified_at_ms.is_some());
        if !checked_before {
            let file = self.library.root().join(&video.path);
            check_copy(&self.fed.fetcher, &copy.href, &file, &probe_spans(video.size, video.piece_length)).await?;
        }
        let (resolution, fps) = copy.file.map_or((None, None), |(h, f)| (Some(h), f));
        store
            .put_received_copy(&ReceivedCopyRecord {
                id: copy.id.clone(),
                actor: actor.to_owned(),
                info_hash: ih,
                video_url: copy.video_url.clone(),
                href: copy.href.clone(),
                resolution,
                fps,
                expires_at_ms,
                verified_at_ms: Some(if checked_before { previous.and_then(|p| p.verified_at_ms).unwrap_or(now) } else { now }),
                created_at_ms: now,
                updated_at_ms: now,
            })
            .await?;
        tracing::info!("{host} keeps a copy of {} at {}", video.path, copy.href);
        self.refresh_advertised().await.map_err(fed)?;
        Ok(true)
    }

    /// Advertises the checked, unexpired copies others keep of our videos.
    pub async fn refresh_advertised(&self) -> Result<(), RedundancyError> {
        let now = timestamp_ms();
        let mut by_video: HashMap<vidseed_shared::InfoHash, Vec<String>> = HashMap::new();
        let mut next = i64::MAX;
        for c in self.fed.store.received_copies().await? {
            if c.verified_at_ms.is_some() && c.expires_at_ms.is_none_or(|e| e > now) {
                by_video.entry(c.info_hash).or_default().push(c.href);
                next = next.min(c.expires_at_ms.unwrap_or(i64::MAX));
            }
        }
        self.library.set_copies(by_video);
        let before = self.next_expiry_ms.swap(next, std::sync::atomic::Ordering::Relaxed);
        if next < before {
            // The scheduler may be asleep for longer: let it look at its time again.
            self.wake();
        }
        Ok(())
    }
}

fn fed(e: RedundancyError) -> FederationError {
    match e {
        RedundancyError::Store(s) => FederationError::Store(s),
        other => FederationError::Remote(other.to_string()),
    }
}
