//! Preparing a copy's fetch order (does I/O): the origin's documents are fetched through the
//! SSRF-guarded, signed fetcher — the web-video file's `.torrent`; for HLS the master and
//! resolution playlists, the segments-sha256 file and the fragmented files' torrents — then
//! checked and turned into the order by [`super::orders`] (pure); other instances' copies of
//! the files (the origin's API lists them) are added as sources after the origin
//! ([`super::mirrors`]). The order is stored with the copy and handed to the data nodes; a copy
//! whose order cannot be made is marked failed with the reason (and tried again later).

use std::sync::Arc;

use vidseed_shared::fetch::FetchOrder;

use super::engine::RedundancyEngine;
use super::mirrors::{self, OtherCopies};
use super::orders::{self, HlsDocuments};
use super::schedule::StoredFiles;
use crate::library::timestamp_ms;
use crate::store::{CopyFileKind, CopyRecord, CopyState, RemoteVideoRecord};

impl RedundancyEngine {
    /// Prepares a copy's order in the background, once at a time per copy, from what the store
    /// holds when the preparation starts: only a copy still "preparing" is prepared, so a stale
    /// list (the scheduler's) cannot order a copy twice. Asked for again while a preparation
    /// runs, the copy is looked at once more after it (re-added or tried again meanwhile, it is
    /// prepared again instead of waiting for the scheduler's next run).
    pub(super) fn spawn_prepare(self: &Arc<Self>, id: &str) {
        {
            let mut preparing = self.preparing.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(again) = preparing.get_mut(id) {
                *again = true;
                return;
            }
            preparing.insert(id.to_owned(), false);
        }
        let me = Arc::clone(self);
        let id = id.to_owned();
        tokio::spawn(async move {
            loop {
                match me.fed.store.copy(&id).await {
                    Ok(Some(copy)) if copy.state == CopyState::Preparing => me.prepare(copy).await,
                    Ok(_) => {}
                    Err(e) => tracing::error!("cannot read {id} to prepare it: {e}; the scheduler's next run does"),
                }
                let mut preparing = me.preparing.lock().unwrap_or_else(|p| p.into_inner());
                if preparing.get(&id) != Some(&true) {
                    preparing.remove(&id);
                    return;
                }
                preparing.insert(id.clone(), false);
            }
        });
    }

    /// Makes the copy's order, stores it and hands it to the nodes; or marks the copy failed.
    pub async fn prepare(&self, copy: CopyRecord) {
        let store = &self.fed.store;
        match self.make_order(&copy).await.map(|o| self.limited(o)) {
            Ok(order) => {
                let json = serde_json::to_string(&order).unwrap_or_default();
                match store.set_copy_state(&copy.id, CopyState::Ordered, None, Some(&json), timestamp_ms()).await {
                    Ok(true) => {
                        tracing::info!("fetch order for {}: {} file(s)", copy.id, order.files.len());
                        self.sink().order(&order);
                    }
                    // Removed meanwhile.
                    Ok(false) => {}
                    Err(e) => tracing::error!("cannot keep the fetch order of {}: {e}", copy.id),
                }
            }
            Err(reason) => {
                tracing::warn!("cannot copy {}: {reason}", copy.id);
                if let Err(e) = store.set_copy_state(&copy.id, CopyState::Failed, Some(&reason), None, timestamp_ms()).await {
                    tracing::error!("cannot record why {} failed: {e}", copy.id);
                }
                if let Err(e) = self.note_failure(&copy.id, &reason).await {
                    tracing::error!("cannot schedule another try of {}: {e}", copy.id);
                }
            }
        }
    }

    async fn text(&self, url: &str) -> Result<String, String> {
        let bytes = self.fed.fetcher.get_bytes(url).await.map_err(|e| e.to_string())?;
        String::from_utf8(bytes.to_vec()).map_err(|_| format!("{url} is not UTF-8 text"))
    }

    /// Fetches what the order needs and makes it.
    async fn make_order(&self, copy: &CopyRecord) -> Result<FetchOrder, String> {
        let video = self
            .fed
            .store
            .remote_video(&copy.video_url)
            .await
            .map_err(|e| format!("database: {e}"))?
            .ok_or_else(|| format!("the video {} is not known", copy.video_url))?;
        let files = StoredFiles::from_json(&video.files_json)?;
        let mut order = self.origin_order(copy, &video, &files).await?;
        self.other_copies(&video, &files).await.add_sources(&mut order, &self.own_bases());
        Ok(order)
    }

    /// The addresses this instance serves from (never a source of its own copies).
    fn own_bases(&self) -> Vec<String> {
        let mut own = vec![self.fed.instance.base.clone(), self.library.urls().data_http.clone()];
        own.extend(self.library.state().nodes.iter().map(|n| n.public_url.clone()).filter(|u| !u.is_empty()));
        own
    }

    /// Other instances' copies of the video's files: those its Video object's magnets name,
    /// and those its origin's API lists (PeerTube names its caches there); none when the API
    /// cannot be read.
    async fn other_copies(&self, video: &RemoteVideoRecord, files: &StoredFiles) -> OtherCopies {
        let mut other = OtherCopies::from_video_files(files);
        if let Some(api) = mirrors::api_video_url(&video.url, &video.uuid) {
            match self.fed.fetcher.get_json(&api).await {
                Ok(v) => other.merge(mirrors::from_api_video(&v)),
                Err(e) => tracing::debug!("no list of other copies of {}: {e}", video.url),
            }
        }
        other
    }

    /// The order with the origin as the only source.
    async fn origin_order(&self, copy: &CopyRecord, video: &RemoteVideoRecord, files: &StoredFiles) -> Result<FetchOrder, String> {
        let fetcher = &self.fed.fetcher;
        match copy.kind {
            CopyFileKind::WebVideo => {
                let file = files
                    .web_videos
                    .iter()
                    .find(|f| Some(f.resolution) == copy.resolution && f.fps == copy.fps)
                    .ok_or_else(|| format!("the video no longer has a {}p file", copy.resolution.unwrap_or(0)))?;
                let torrent_url = file.torrent_url.as_deref().ok_or_else(|| format!("the Video gives no torrent for {}", file.url))?;
                let torrent = fetcher.get_bytes(torrent_url).await.map_err(|e| e.to_string())?;
                orders::web_video_order(&copy.id, file, &torrent)
            }
            CopyFileKind::Hls => {
                let hls = files.hls.as_ref().ok_or("the video no longer has an HLS playlist")?;
                let master = self.text(&hls.master_url).await?;
                let mut docs = HlsDocuments { master: master.clone(), ..HlsDocuments::default() };
                for (url, uri) in orders::variant_urls(&hls.master_url, &master)? {
                    docs.media.push((uri, self.text(&url).await?));
                }
                for (url, uri) in orders::subtitle_urls(&hls.master_url, &master)? {
                    docs.subtitles.push((uri, self.text(&url).await?));
                }
                docs.segments_sha256 = self.text(&hls.segments_sha256_url).await?;
                for f in &hls.files {
                    if let Some(t) = &f.torrent_url {
                        let bytes = fetcher.get_bytes(t).await.map_err(|e| e.to_string())?;
                        docs.torrents.push((f.file_name().to_owned(), bytes.to_vec()));
                    }
                }
                orders::hls_order(&copy.id, &video.uuid, hls, &docs)
            }
        }
    }
}
