//! The redundancy engine (does I/O): the shell around the pure cores. It keeps the copies this
//! instance makes of followed instances' videos — manual ones and those the strategies choose —,
//! hands their fetch orders to the data nodes through a [`FetchSink`] (the catalog channel),
//! takes the nodes' reports ([`RedundancyEngine::on_report`]), announces a copy to its origin
//! (`Create CacheFile`) once a node serves it, extends kept copies (`Update`) before they
//! expire and undoes removed ones (`Undo`, queued before the nodes are told to delete the
//! files). Its jobs live beside it: `prepare` (fetching what an order needs), `scheduler` (the
//! periodic run) and `origin` (copies others keep of our videos).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;
use vidseed_shared::fetch::{Discard, FetchOrder, FetchReport, FetchState};

use super::cache_file::{Copy, CopyKind};
use super::config::{self, AcceptFrom, SETTING_ACCEPT_FROM, SETTING_STRATEGIES};
use super::retry::{after_failure, given_up, AfterFailure, RetryPolicy};
use super::schedule::StoredFiles;
use super::status::{status, CopyStatus};
use super::strategy::Strategy;
use crate::federation::{Engine, FederationError};
use crate::activitypub::fetch::host_of;
use crate::library::{timestamp_ms, Library};
use crate::store::{CopyFileKind, CopyNodeRecord, CopyRecord, CopyState, RemoteVideoRecord, StoreError, MANUAL};

/// Where fetch orders go: the catalog channel implements it, sending each order to the data
/// nodes that named the fetch capability (and the current orders to a node when it connects,
/// from [`RedundancyEngine::orders`]). Calls must not block: queue and return.
pub trait FetchSink: Send + Sync {
    /// Make (or resume) this copy, then serve it; replaces an order with the same id.
    fn order(&self, order: &FetchOrder);
    /// Stop serving this copy and delete its files.
    fn discard(&self, discard: &Discard);
}

/// The sink until the channel attaches one: orders wait in the store.
struct NoNodes;

impl FetchSink for NoNodes {
    fn order(&self, order: &FetchOrder) {
        tracing::debug!("fetch order {} kept until a data node that can fetch connects", order.id);
    }

    fn discard(&self, discard: &Discard) {
        tracing::debug!("discard of {} not sent: no data node that can fetch is connected", discard.id);
    }
}

/// Why a redundancy operation failed, said so that the admin knows what to do.
#[derive(Debug, thiserror::Error)]
pub enum RedundancyError {
    /// Something the admin named does not exist.
    #[error("{what}")]
    NotFound { what: String, hint: Option<String> },
    /// The request cannot be done as asked.
    #[error("{what}")]
    Refused { what: String, hint: Option<String> },
    /// Another instance failed or answered something unusable.
    #[error("{0}")]
    Remote(String),
    #[error("database: {0}")]
    Store(#[from] StoreError),
}

impl From<FederationError> for RedundancyError {
    fn from(e: FederationError) -> Self {
        match e {
            FederationError::Store(s) => RedundancyError::Store(s),
            other => RedundancyError::Remote(other.to_string()),
        }
    }
}

impl RedundancyError {
    fn refused(what: impl Into<String>, hint: impl Into<String>) -> Self {
        RedundancyError::Refused { what: what.into(), hint: Some(hint.into()) }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            RedundancyError::NotFound { hint, .. } | RedundancyError::Refused { hint, .. } => hint.clone(),
            RedundancyError::Remote(_) => Some("check that the origin instance is up and the URL is right".into()),
            RedundancyError::Store(e) => Some(e.hint()),
        }
    }
}

/// A copy with its progress (the admin API lists it, `http/admin_redundancy.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyView {
    pub copy: CopyRecord,
    pub video_name: Option<String>,
    pub status: CopyStatus,
    /// It failed as many times in a row as the retry policy allows: no more tries.
    pub gave_up: bool,
}

/// The engine.
pub struct RedundancyEngine {
    pub(super) fed: Arc<Engine>,
    pub(super) library: Arc<Library>,
    sink: RwLock<Arc<dyn FetchSink>>,
    wake: Notify,
    /// How often the scheduler runs (PeerTube's `check_interval`, 1 h by default).
    pub check_interval: Duration,
    /// Copies whose order is being prepared now, each with whether it was asked for again
    /// meanwhile (re-added by the admin, tried again, seen by the scheduler).
    pub(super) preparing: Mutex<HashMap<String, bool>>,
    /// When the next copy others keep of our videos expires (ms; `i64::MAX`: none): the
    /// scheduler wakes then to stop advertising it.
    pub(super) next_expiry_ms: std::sync::atomic::AtomicI64,
    /// What each copy's download may take on a node.
    limits: std::sync::RwLock<ImportLimits>,
    /// How failed copies are tried again.
    retry: std::sync::RwLock<RetryPolicy>,
    /// When the next failed copy is due to be tried again (ms; `i64::MAX`: none).
    pub(super) next_retry_ms: std::sync::atomic::AtomicI64,
    /// Videos whose strategy copy was given up, and until when (ms) the strategies leave them
    /// alone (a check interval), so that a video whose copy keeps failing is not chosen again
    /// at once.
    pub(super) given_up_videos: Mutex<HashMap<String, i64>>,
}

/// What a copy's download may take on a data node, set by the admin (`--redundancy-bandwidth`,
/// `--redundancy-parallel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportLimits {
    /// Bytes per second for one copy's ranges together (0: no cap).
    pub max_bytes_per_sec: u64,
    /// Ranges fetched at once for one copy.
    pub parallel: u32,
}

impl Default for ImportLimits {
    fn default() -> Self {
        ImportLimits { max_bytes_per_sec: 0, parallel: super::orders::PARALLEL }
    }
}

impl ImportLimits {
    /// The order with these limits (orders stored before a change get them when sent again).
    pub fn apply(&self, mut order: FetchOrder) -> FetchOrder {
        order.max_bytes_per_sec = self.max_bytes_per_sec;
        order.parallel = self.parallel.clamp(1, 16);
        order
    }
}

impl RedundancyEngine {
    /// The engine, attached to the federation engine (which hands it received CacheFiles and
    /// tells it of video changes). Start its scheduler with [`RedundancyEngine::start`].
    pub fn new(fed: Arc<Engine>, library: Arc<Library>, check_interval: Duration) -> Arc<RedundancyEngine> {
        let r = Arc::new(RedundancyEngine {
            fed: Arc::clone(&fed),
            library,
            sink: RwLock::new(Arc::new(NoNodes)),
            wake: Notify::new(),
            check_interval: check_interval.max(Duration::from_secs(1)),
            preparing: Mutex::new(HashMap::new()),
            next_expiry_ms: std::sync::atomic::AtomicI64::new(i64::MAX),
            limits: std::sync::RwLock::new(ImportLimits::default()),
            retry: std::sync::RwLock::new(RetryPolicy::default()),
            next_retry_ms: std::sync::atomic::AtomicI64::new(i64::MAX),
            given_up_videos: Mutex::default(),
        });
        fed.attach_redundancy(Arc::downgrade(&r));
        r
    }

    /// Where fetch orders and discards go from now on (the catalog channel).
    pub fn set_sink(&self, sink: Arc<dyn FetchSink>) {
        *self.sink.write().unwrap_or_else(|p| p.into_inner()) = sink;
    }

    pub(super) fn sink(&self) -> Arc<dyn FetchSink> {
        Arc::clone(&self.sink.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Runs the scheduler soon (a video changed, the admin changed something).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub(super) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Sets what each copy's download may take (applies to orders sent from now on).
    pub fn set_import_limits(&self, limits: ImportLimits) {
        *self.limits.write().unwrap_or_else(|p| p.into_inner()) = limits;
    }

    /// Sets how failed copies are tried again (from the next failure on).
    pub fn set_retry_policy(&self, policy: RetryPolicy) {
        *self.retry.write().unwrap_or_else(|p| p.into_inner()) = policy;
    }

    pub(super) fn retry_policy(&self) -> RetryPolicy {
        *self.retry.read().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy failed (its order could not be made, or its nodes' imports failed): it is tried
    /// again after the retry policy's delay, or given up after as many failures in a row as the
    /// policy allows (the scheduler then drops a strategy's copy). Nothing is counted while a
    /// try is pending already, or while another node serves the copy.
    pub(super) async fn note_failure(&self, id: &str, reason: &str) -> Result<(), RedundancyError> {
        let store = &self.fed.store;
        let Some(copy) = store.copy(id).await? else { return Ok(()) };
        if copy.retry_at_ms.is_some() || store.reports_of_copy(id).await?.iter().any(|r| r.state == "serving") {
            return Ok(());
        }
        let policy = self.retry_policy();
        if given_up(&policy, copy.attempts) {
            return Ok(());
        }
        let now = timestamp_ms();
        match after_failure(&policy, copy.attempts, now, getrandom::u64().unwrap_or(0)) {
            AfterFailure::RetryAt { attempts, at_ms } => {
                store.set_copy_retry(id, attempts, Some(at_ms), now).await?;
                tracing::warn!("{id} failed ({reason}); try {} of {} at {}", attempts + 1, policy.attempts, crate::clock::iso_of_ms(at_ms));
            }
            AfterFailure::GiveUp { attempts } => {
                store.set_copy_retry(id, attempts, None, now).await?;
                tracing::warn!("{id} failed {attempts} times in a row, given up: {reason}");
            }
        }
        // The scheduler sleeps until the earliest try (and drops a strategy's copy given up).
        self.wake();
        Ok(())
    }

    /// Tries a failed copy again now: its nodes' failure reports are forgotten and its order
    /// is made again (the origin's documents fetched anew) and handed to the nodes, which resume
    /// from what they verified.
    pub(super) async fn retry_now(self: &Arc<Self>, copy: &CopyRecord, attempts: u32) -> Result<(), RedundancyError> {
        let store = &self.fed.store;
        let now = timestamp_ms();
        store.set_copy_retry(&copy.id, attempts, None, now).await?;
        store.clear_failed_reports(&copy.id).await?;
        store.set_copy_state(&copy.id, CopyState::Preparing, None, None, now).await?;
        tracing::info!("trying {} again", copy.id);
        self.spawn_prepare(&copy.id);
        Ok(())
    }

    /// An order with the current limits.
    pub(super) fn limited(&self, order: FetchOrder) -> FetchOrder {
        self.limits.read().unwrap_or_else(|p| p.into_inner()).apply(order)
    }

    /// The orders the data nodes should be working on or serving: every copy whose order is
    /// made. A node that connects gets them all.
    pub async fn orders(&self) -> Result<Vec<FetchOrder>, RedundancyError> {
        let copies = self.fed.store.copies().await?;
        Ok(copies
            .iter()
            .filter(|c| c.state == CopyState::Ordered)
            .filter_map(|c| serde_json::from_str(c.order_json.as_deref()?).ok())
            .map(|o| self.limited(o))
            .collect())
    }

    /// Every copy this instance keeps, whatever its state (a node keeps their files, partial
    /// ones included, and deletes any other).
    pub async fn kept_ids(&self) -> Result<Vec<String>, RedundancyError> {
        Ok(self.fed.store.copies().await?.into_iter().map(|c| c.id).collect())
    }

    /// A data node's report on a copy. Kept per node; when a node serves a copy not announced
    /// yet, its Create CacheFile is queued to the origin. A report on a copy this instance no
    /// longer keeps gets a discard back.
    pub async fn on_report(&self, node: &str, report: FetchReport) -> Result<(), RedundancyError> {
        let state = match report.state {
            FetchState::Downloading => "downloading",
            FetchState::Verifying => "verifying",
            FetchState::Serving => "serving",
            FetchState::Failed => "failed",
        };
        let kept = self
            .fed
            .store
            .put_copy_report(&CopyNodeRecord {
                copy_id: report.id.clone(),
                node: node.to_owned(),
                state: state.to_owned(),
                done_bytes: report.done_bytes,
                total_bytes: report.total_bytes,
                reason: report.reason.clone(),
                updated_at_ms: timestamp_ms(),
            })
            .await?;
        if !kept {
            tracing::info!("node {node} reported on {}, which this instance no longer keeps: discarded", report.id);
            self.sink().discard(&Discard { id: report.id });
            return Ok(());
        }
        match report.state {
            FetchState::Serving => {
                if let Some(copy) = self.fed.store.copy(&report.id).await? {
                    if copy.attempts > 0 || copy.retry_at_ms.is_some() {
                        // It works again: the failures in a row start from zero.
                        self.fed.store.set_copy_retry(&copy.id, 0, None, timestamp_ms()).await?;
                    }
                    if copy.announced_at_ms.is_none() {
                        self.announce(&copy, node).await?;
                    }
                }
            }
            FetchState::Failed => {
                let why = format!("{node}: {}", report.reason.as_deref().unwrap_or("failed"));
                self.note_failure(&report.id, &why).await?;
            }
            FetchState::Downloading | FetchState::Verifying => {}
        }
        Ok(())
    }

    /// The CacheFile of a copy record, with what its video says.
    pub(super) fn cache_file(&self, c: &CopyRecord, video: Option<&RemoteVideoRecord>, serve_base: &str) -> Copy {
        let uuid = video.map(|v| v.uuid.clone()).unwrap_or_else(|| uuid_in_id(&c.id));
        let kind = match c.kind {
            CopyFileKind::Hls => CopyKind::Hls,
            CopyFileKind::WebVideo => CopyKind::WebVideo {
                resolution: c.resolution.unwrap_or(0),
                fps: c.fps,
                size: c.size,
                media_type: c.media_type.clone(),
                file_name: c.file_name.clone().unwrap_or_default(),
            },
        };
        Copy {
            base: self.fed.instance.base.clone(),
            serve_base: serve_base.to_owned(),
            video_uuid: uuid,
            video_url: c.video_url.clone(),
            kind,
            expires: c.expires_at_ms.map(crate::clock::iso_of_ms),
        }
    }

    /// The inbox CacheFile activities of a video go to: its account's shared inbox.
    async fn origin_inbox(&self, video: Option<&RemoteVideoRecord>) -> Result<(String, String), RedundancyError> {
        let account = video
            .and_then(|v| v.account.clone())
            .ok_or_else(|| RedundancyError::Remote("the origin video names no account to tell".into()))?;
        let actor = self.fed.actor(&account).await?;
        Ok((account, actor.shared_inbox.unwrap_or(actor.inbox)))
    }

    /// Queues the copy's Create CacheFile to the origin, served from `node`'s public URL
    /// (exactly once: the announcement is claimed in the store first).
    pub(super) async fn announce(&self, copy: &CopyRecord, node: &str) -> Result<(), RedundancyError> {
        let serve_base = self
            .library
            .state()
            .nodes
            .iter()
            .find(|n| n.name == node && !n.public_url.is_empty())
            .map(|n| n.public_url.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| self.library.urls().data_http.clone());
        let store = &self.fed.store;
        let now = timestamp_ms();
        // The copy was announced (and undone) before: its new Create needs a new id.
        let suffix = if store.activity_queued(&format!("{}/activity", copy.id)).await? { format!("/{now}") } else { String::new() };
        if !store.claim_copy_announcement(&copy.id, &serve_base, &suffix, now).await? {
            return Ok(());
        }
        let sent = async {
            let video = store.remote_video(&copy.video_url).await?;
            let (account, inbox) = self.origin_inbox(video.as_ref()).await?;
            let cf = self.cache_file(copy, video.as_ref(), &serve_base);
            self.fed.send(&cf.create_as(&self.fed.instance.actor_url(), &account, &suffix), &[inbox]).await?;
            Ok::<_, RedundancyError>(())
        }
        .await;
        match sent {
            Ok(()) => {
                tracing::info!("{} is served by {node}: its origin is told (Create CacheFile)", copy.id);
                Ok(())
            }
            Err(e) => {
                // Tried again at the next report or scheduler run.
                store.unclaim_copy_announcement(&copy.id).await?;
                Err(e)
            }
        }
    }

    /// Sets a later expiry on a video's copies and queues an Update CacheFile for each one
    /// announced.
    pub(super) async fn extend(&self, video_url: &str, expires_ms: i64) -> Result<(), RedundancyError> {
        let store = &self.fed.store;
        let video = store.remote_video(video_url).await?;
        let now = timestamp_ms();
        for mut c in store.copies_of_video(video_url).await? {
            store.set_copy_expiry(&c.id, Some(expires_ms), now).await?;
            c.expires_at_ms = Some(expires_ms);
            if let Some(base) = c.serve_base.clone().filter(|_| c.announced_at_ms.is_some()) {
                let (account, inbox) = self.origin_inbox(video.as_ref()).await?;
                let cf = self.cache_file(&c, video.as_ref(), &base);
                let update = cf.update(&self.fed.instance.actor_url(), &account, &crate::clock::iso_of_ms(now));
                self.fed.send(&update, &[inbox]).await?;
            }
        }
        Ok(())
    }

    /// Removes every copy of a video: an Undo CacheFile is queued for each announced one, and
    /// only then are the nodes told to delete its files. How many copies were removed.
    pub async fn remove_video_copies(&self, video_url: &str, why: &str) -> Result<usize, RedundancyError> {
        let store = &self.fed.store;
        let copies = store.copies_of_video(video_url).await?;
        let video = store.remote_video(video_url).await?;
        let mut removed = 0;
        for c in copies {
            if let (Some(base), Some(_)) = (c.serve_base.clone(), c.announced_at_ms) {
                let (account, inbox) = self.origin_inbox(video.as_ref()).await?;
                let cf = self.cache_file(&c, video.as_ref(), &base);
                let suffix = c.activity_suffix.as_deref().unwrap_or_default();
                self.fed.send(&cf.undo_as(&self.fed.instance.actor_url(), &account, suffix), &[inbox]).await?;
            }
            self.sink().discard(&Discard { id: c.id.clone() });
            if store.remove_copy(&c.id).await? {
                removed += 1;
            }
        }
        if removed > 0 {
            tracing::info!("removed {removed} cop(ies) of {video_url}: {why}");
        }
        Ok(removed)
    }

    /// The copy records of a video, one per web-video file and one for the HLS playlist.
    pub(super) fn new_copies(&self, video: &RemoteVideoRecord, files: &StoredFiles, strategy: &str, expires_ms: Option<i64>) -> Vec<CopyRecord> {
        let now = timestamp_ms();
        let record = |cf: &Copy, kind: CopyFileKind, size: u64| CopyRecord {
            id: cf.id(),
            video_url: video.url.clone(),
            kind,
            resolution: None,
            fps: None,
            media_type: String::new(),
            file_name: None,
            size,
            strategy: strategy.to_owned(),
            state: CopyState::Preparing,
            reason: None,
            order_json: None,
            serve_base: None,
            activity_suffix: None,
            announced_at_ms: None,
            expires_at_ms: expires_ms,
            attempts: 0,
            retry_at_ms: None,
            created_at_ms: now,
            updated_at_ms: now,
        };
        let mut out = Vec::new();
        let base = self.fed.instance.base.clone();
        for f in &files.web_videos {
            let kind = CopyKind::WebVideo {
                resolution: f.resolution,
                fps: f.fps,
                size: f.size,
                media_type: f.media_type.clone(),
                file_name: f.file_name().to_owned(),
            };
            let cf = Copy { base: base.clone(), serve_base: String::new(), video_uuid: video.uuid.clone(), video_url: video.url.clone(), kind, expires: None };
            out.push(CopyRecord {
                resolution: Some(f.resolution),
                fps: f.fps,
                media_type: f.media_type.clone(),
                file_name: Some(f.file_name().to_owned()),
                ..record(&cf, CopyFileKind::WebVideo, f.size)
            });
        }
        if let Some(h) = &files.hls {
            let cf = Copy { base, serve_base: String::new(), video_uuid: video.uuid.clone(), video_url: video.url.clone(), kind: CopyKind::Hls, expires: None };
            out.push(CopyRecord { media_type: "application/x-mpegURL".into(), ..record(&cf, CopyFileKind::Hls, h.files.iter().map(|f| f.size).sum()) });
        }
        out
    }

    /// Keeps a copy of a video by hand (the admin's `redundancy add`): the video is fetched if
    /// unknown; its instance must be followed and allow redundancy. A strategy's copy of it
    /// becomes manual; a copy whose order failed is prepared again. Returns its copies.
    pub async fn add_manual(self: &Arc<Self>, video_url: &str) -> Result<Vec<CopyRecord>, RedundancyError> {
        let video_url = video_url.trim();
        let host = host_of(video_url).ok_or_else(|| RedundancyError::refused(format!("{video_url:?} is not a video URL"), "give the video's URL at its origin, e.g. https://peertube.example/videos/watch/<uuid>"))?;
        let store = &self.fed.store;
        if !self.fed.follows_host(&host).await? {
            return Err(RedundancyError::refused(format!("this instance does not follow {host}"), format!("follow it first: `vidseed admin follow {host}`")));
        }
        if !store.redundancy_hosts().await?.contains(&host) {
            return Err(RedundancyError::refused(format!("redundancy is not allowed for {host}"), format!("allow it first: `vidseed admin redundancy allow {host}`")));
        }
        let video = match store.remote_video(video_url).await? {
            Some(v) if v.deleted_at_ms.is_none() => v,
            Some(_) => return Err(RedundancyError::NotFound { what: format!("{video_url} was deleted at its origin"), hint: None }),
            None => {
                let fetched = self.fed.fetch_video(video_url).await?;
                store.remote_video(&fetched.url).await?.ok_or_else(|| RedundancyError::Remote(format!("{video_url} could not be kept")))?
            }
        };
        let files = StoredFiles::from_json(&video.files_json).map_err(RedundancyError::Remote)?;
        let mut copies = self.new_copies(&video, &files, MANUAL, None);
        if copies.is_empty() {
            return Err(RedundancyError::refused(format!("{} has no file to copy", video.url), "a live video or one still transcoding has none"));
        }
        let existing = store.copies_of_video(&video.url).await?;
        for c in &copies {
            match existing.iter().find(|o| o.id == c.id) {
                // A strategy's copy is kept by hand from now on, until removed.
                Some(old) => {
                    if old.strategy != MANUAL {
                        store.set_copy_strategy(&old.id, MANUAL, None, timestamp_ms()).await?;
                    }
                    // Adding it again tries a failed copy (even one given up) again at once, its
                    // failures in a row counted from zero.
                    let failed_on_nodes = store.reports_of_copy(&old.id).await?.iter().any(|r| r.state == "failed");
                    if old.state == CopyState::Failed || old.attempts > 0 || old.retry_at_ms.is_some() || failed_on_nodes {
                        self.retry_now(old, 0).await?;
                    }
                }
                None => {
                    if store.insert_copy(c).await? {
                        self.spawn_prepare(&c.id);
                    }
                }
            }
        }
        copies = store.copies_of_video(&video.url).await?;
        Ok(copies)
    }

    /// The copies with their status, oldest first.
    pub async fn list(&self) -> Result<Vec<CopyView>, RedundancyError> {
        let store = &self.fed.store;
        let copies = store.copies().await?;
        let reports = store.copy_reports().await?;
        let policy = self.retry_policy();
        let mut names = HashMap::new();
        let mut out = Vec::with_capacity(copies.len());
        for c in copies {
            if !names.contains_key(&c.video_url) {
                let name = store.remote_video(&c.video_url).await?.map(|v| v.name);
                names.insert(c.video_url.clone(), name);
            }
            let mine: Vec<&CopyNodeRecord> = reports.iter().filter(|r| r.copy_id == c.id).collect();
            let gave_up = given_up(&policy, c.attempts);
            out.push(CopyView { status: status(&c, &mine), video_name: names.get(&c.video_url).cloned().flatten(), copy: c, gave_up });
        }
        Ok(out)
    }

    /// Removes the admin's (or any) copies of a video; `NotFound` when there are none.
    pub async fn remove(&self, video_url: &str) -> Result<usize, RedundancyError> {
        match self.remove_video_copies(video_url.trim(), "removed by the admin").await? {
            0 => Err(RedundancyError::NotFound {
                what: format!("this instance keeps no copy of {video_url}"),
                hint: Some("list the copies with `vidseed admin redundancy list`".into()),
            }),
            n => Ok(n),
        }
    }

    /// Allows copies of a followed host's videos.
    pub async fn allow_host(&self, host: &str) -> Result<(), RedundancyError> {
        let host = host.trim().to_ascii_lowercase();
        if !self.fed.follows_host(&host).await? {
            return Err(RedundancyError::refused(format!("this instance does not follow {host}"), format!("follow it first: `vidseed admin follow {host}`")));
        }
        self.fed.store.allow_redundancy(&host, timestamp_ms()).await?;
        self.wake();
        Ok(())
    }

    /// Stops copying a host's videos and removes the copies of them (each undone first).
    pub async fn deny_host(&self, host: &str) -> Result<usize, RedundancyError> {
        let host = host.trim().to_ascii_lowercase();
        self.fed.store.deny_redundancy(&host).await?;
        let mut removed = 0;
        let mut seen = HashSet::new();
        for c in self.fed.store.copies().await? {
            if host_of(&c.video_url).as_deref() == Some(host.as_str()) && seen.insert(c.video_url.clone()) {
                removed += self.remove_video_copies(&c.video_url, &format!("redundancy denied for {host}")).await?;
            }
        }
        Ok(removed)
    }

    /// The followed hosts and whether redundancy is allowed for each (and allowed hosts no
    /// longer followed).
    pub async fn hosts(&self) -> Result<Vec<(String, bool, bool)>, RedundancyError> {
        let allowed = self.fed.store.redundancy_hosts().await?;
        let following = self.fed.store.follows(crate::store::FollowDirection::Following, Some(crate::store::FollowState::Accepted)).await?;
        let mut out: Vec<(String, bool, bool)> = following.iter().map(|f| (f.host.clone(), allowed.contains(&f.host), true)).collect();
        for h in allowed {
            if !out.iter().any(|(o, _, _)| *o == h) {
                out.push((h, true, false));
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    pub async fn strategies(&self) -> Result<Vec<Strategy>, RedundancyError> {
        Ok(config::stored_strategies(self.fed.store.setting(SETTING_STRATEGIES).await?.as_deref()))
    }

    /// Replaces the strategies (the JSON list, checked).
    pub async fn set_strategies(&self, list: &Value) -> Result<Vec<Strategy>, RedundancyError> {
        let parsed = config::strategies_from_json(list).map_err(|e| RedundancyError::refused(e, "each strategy: {\"strategy\": \"most-views\"|\"trending\"|\"recently-added\", \"size\": \"10GB\", \"minLifetime\": \"25 hours\", \"minViews\": N (recently-added)}"))?;
        self.fed.store.set_setting(SETTING_STRATEGIES, &config::strategies_to_json(&parsed).to_string()).await?;
        self.wake();
        Ok(parsed)
    }

    pub async fn accept_from(&self) -> Result<AcceptFrom, RedundancyError> {
        Ok(self.fed.store.setting(SETTING_ACCEPT_FROM).await?.and_then(|s| AcceptFrom::parse(&s).ok()).unwrap_or_default())
    }

    pub async fn set_accept_from(&self, value: &str) -> Result<AcceptFrom, RedundancyError> {
        let policy = AcceptFrom::parse(value).map_err(|e| RedundancyError::refused(e, "use nobody, anybody or followings"))?;
        self.fed.store.set_setting(SETTING_ACCEPT_FROM, policy.as_str()).await?;
        Ok(policy)
    }

    /// The CacheFile object served at its id (`path` is the id's path), once announced.
    pub async fn cache_file_object(&self, path: &str) -> Result<Option<Value>, RedundancyError> {
        let base = &self.fed.instance.base;
        // PeerTube names the HLS kind by number in its own route (`streaming-playlists/1/…`).
        let path = path.replacen("/redundancy/streaming-playlists/1/", "/redundancy/streaming-playlists/hls/", 1);
        let Some(copy) = self.fed.store.copy(&format!("{base}{path}")).await? else { return Ok(None) };
        let Some(serve_base) = copy.serve_base.clone().filter(|_| copy.announced_at_ms.is_some()) else { return Ok(None) };
        let video = self.fed.store.remote_video(&copy.video_url).await?;
        Ok(Some(self.cache_file(&copy, video.as_ref(), &serve_base).public_object(&self.fed.instance.actor_url())))
    }
}

/// The video's uuid in a CacheFile id (`…/videos/<uuid>/<res>`, `…/hls/<uuid>`).
fn uuid_in_id(id: &str) -> String {
    id.split('/').find(|s| s.len() == 36 && s.bytes().filter(|b| *b == b'-').count() == 4).unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::uuid_in_id;

    #[test]
    fn uuids_in_cache_file_ids() {
        let u = "202e2a06-b073-46f0-8197-a77a379ce081";
        assert_eq!(uuid_in_id(&format!("https://me/redundancy/videos/{u}/360-25")), u);
        assert_eq!(uuid_in_id(&format!("https://me/redundancy/streaming-playlists/hls/{u}")), u);
        assert_eq!(uuid_in_id("https://me/redundancy/videos/x/1"), "");
    }
}

#[cfg(test)]
mod limit_tests {
    use vidseed_shared::fetch::FetchOrder;

    use super::ImportLimits;

    #[test]
    fn limits_are_written_into_orders() {
        let order = FetchOrder { id: "c".into(), files: vec![], info_hashes: vec![], max_bytes_per_sec: 0, parallel: 4 };
        let o = ImportLimits { max_bytes_per_sec: 5_000_000, parallel: 2 }.apply(order.clone());
        assert_eq!((o.max_bytes_per_sec, o.parallel), (5_000_000, 2));
        let o = ImportLimits { max_bytes_per_sec: 0, parallel: 0 }.apply(order);
        assert_eq!((o.max_bytes_per_sec, o.parallel), (0, 1), "at least one range at a time");
    }
}
