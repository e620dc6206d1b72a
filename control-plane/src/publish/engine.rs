//! The publisher (does I/O): follows the library and federates it as a PeerTube origin does.
//! Each library video gets a stable UUID (kept in the store by library path), its media facts
//! and images once per file; a video some data node serves and PeerTube can play is announced —
//! the account's `Create`, then the instance's and the channel's `Announce` — an edited or
//! changed one updated, a removed one deleted, each through the persistent delivery queue,
//! signed by its actor, to the followers of the instance, the account and the channel. The
//! documents (actors, Video, outboxes) are built here from the store's rows.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;

use super::actors::{ActorNames, LocalActors, Role};
use super::images;
use super::media;
use super::metadata::{title_from_file_name, Metadata, VideoEdit};
use super::video_object::{self as vo, ImageSize, Sharer};
use crate::activitypub::keys::InstanceKeys;
use crate::federation::{Engine, FederationError, LocalSigner};
use crate::library::{timestamp_ms, Library};
use crate::store::{FollowDirection, FollowState, PublishedVideo, Store, StoreError};

/// The names of the account and channel (`None`: defaults).
#[derive(Clone, Debug, Default)]
pub struct PublishConfig {
    pub account: Option<ActorNames>,
    pub channel: Option<ActorNames>,
}

/// Why publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{0}")]
    Invalid(String),
    #[error("no video with UUID {0}")]
    NotFound(String),
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Federation(#[from] FederationError),
}

/// What a reconciliation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub probed: usize,
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    /// Videos ready to federate but not served by any node yet (looked at again soon).
    pub waiting: usize,
}

/// The publisher.
pub struct Publisher {
    pub actors: LocalActors,
    account: Arc<LocalSigner>,
    channel: Arc<LocalSigner>,
    /// When the account and channel were made (ISO 8601).
    published: String,
    library: Arc<Library>,
    fed: Arc<Engine>,
    store: Store,
    wake: Notify,
    /// The rows as last read, by UUID, and each video's image sizes.
    rows: RwLock<Arc<HashMap<String, PublishedVideo>>>,
    images: RwLock<Arc<HashMap<String, Vec<ImageSize>>>>,
}

/// A local actor's key pair: made once, kept in the store.
async fn keys_of(store: &Store, role: Role) -> Result<InstanceKeys, PublishError> {
    let key = format!("actor_private_key_pem:{}", role.as_str());
    let bad = |e: crate::activitypub::keys::KeyError| PublishError::Invalid(format!("the {} key: {e}", role.as_str()));
    if let Some(pem) = store.setting(&key).await? {
        return InstanceKeys::from_pem(&pem).map_err(bad);
    }
    let fresh = tokio::task::spawn_blocking(InstanceKeys::generate).await.map_err(|e| PublishError::Invalid(e.to_string()))?.map_err(bad)?;
    let pem = store.setting_or_insert(&key, fresh.private_pem()).await?;
    InstanceKeys::from_pem(&pem).map_err(bad)
}

impl Publisher {
    /// Makes the account and channel (keys made once and kept), registers them with the
    /// federation engine, and loads the published videos.
    pub async fn new(library: Arc<Library>, fed: Arc<Engine>, cfg: &PublishConfig) -> Result<Arc<Publisher>, PublishError> {
        let store = library.store().clone();
        let actors = LocalActors::new(fed.instance.clone(), cfg.account.clone(), cfg.channel.clone()).map_err(PublishError::Invalid)?;
        let signer = |role: Role, keys: InstanceKeys| Arc::new(LocalSigner { url: actors.url(role), role: role.as_str(), keys: Arc::new(keys) });
        let account = signer(Role::Account, keys_of(&store, Role::Account).await?);
        let channel = signer(Role::Channel, keys_of(&store, Role::Channel).await?);
        for s in [&account, &channel] {
            fed.add_local_actor(LocalSigner { url: s.url.clone(), role: s.role, keys: Arc::clone(&s.keys) });
        }
        let now = crate::clock::iso_8601(std::time::SystemTime::now());
        let published = store.setting_or_insert("local_actors_published", &now).await?;
        let p = Arc::new(Publisher { actors, account, channel, published, library, fed, store, wake: Notify::new(), rows: RwLock::default(), images: RwLock::default() });
        p.load().await?;
        Ok(p)
    }

    /// Runs the publisher: at once, on every library change, when woken, and every minute.
    pub fn start(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let mut changes = me.library.subscribe();
            loop {
                // Nodes acknowledging the catalog change no sequence number: a video waiting
                // for one is looked at again within a second.
                let pause = match me.reconcile().await {
                    Ok(r) if r.waiting > 0 => Duration::from_secs(1),
                    Ok(_) => Duration::from_secs(60),
                    Err(e) => {
                        tracing::warn!("publishing the library: {e}");
                        Duration::from_secs(5)
                    }
                };
                tokio::select! {
                    _ = changes.changed() => {}
                    _ = me.wake.notified() => {}
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        })
    }

    /// Asks for a reconciliation now.
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// Reads the rows and image sizes into memory, and gives the library the UUIDs.
    async fn load(&self) -> Result<(), PublishError> {
        let rows = self.store.published_videos().await?;
        let mut sizes: HashMap<String, Vec<ImageSize>> = HashMap::new();
        for (uuid, kind, w, h) in self.store.video_image_sizes().await? {
            sizes.entry(uuid).or_default().push(ImageSize { preview: kind == "preview", width: w as u32, height: h as u32 });
        }
        for v in sizes.values_mut() {
            v.sort_by_key(|i| i.preview);
        }
        self.library.set_uuids(rows.iter().map(|r| (r.path.clone(), r.uuid.clone())).collect());
        *self.rows.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(rows.into_iter().map(|r| (r.uuid.clone(), r)).collect());
        *self.images.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(sizes);
        Ok(())
    }

    fn rows(&self) -> Arc<HashMap<String, PublishedVideo>> {
        Arc::clone(&self.rows.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The published video with this UUID.
    pub fn row(&self, uuid: &str) -> Option<PublishedVideo> {
        self.rows().get(uuid).cloned()
    }

    /// Every published video, by path.
    pub fn list(&self) -> Vec<PublishedVideo> {
        let mut v: Vec<PublishedVideo> = self.rows().values().cloned().collect();
        v.sort_by(|a, b| a.path.cmp(&b.path));
        v
    }

    /// Brings the federated state in line with the library (see the module's doc).
    pub async fn reconcile(&self) -> Result<Report, PublishError> {
        let mut report = Report::default();
        let st = self.library.state();
        let mut by_path: HashMap<String, PublishedVideo> = self.store.published_videos().await?.into_iter().map(|r| (r.path.clone(), r)).collect();
        // New videos get their row (and UUID); changed files are read again.
        for (path, rec) in &st.videos {
            let row = match by_path.get(path) {
                Some(r) => r.clone(),
                None => self.store.ensure_published(path, &vo::new_uuid(), &title_from_file_name(&rec.name), timestamp_ms()).await?,
            };
            let ih = rec.info_hash.to_hex();
            let row = if row.probed_info_hash.as_deref() != Some(ih.as_str()) {
                report.probed += 1;
                self.read_file(&row, &ih).await?
            } else {
                row
            };
            by_path.insert(path.clone(), row);
        }
        self.library.set_uuids(by_path.iter().filter(|(p, _)| st.videos.contains_key(*p)).map(|(p, r)| (p.clone(), r.uuid.clone())).collect());
        self.load_images_only().await?;
        // Federate.
        for (path, row) in &by_path {
            let Some(rec) = st.videos.get(path) else {
                if row.announced_at_ms.is_some() {
                    self.send_delete(row).await?;
                    report.deleted += 1;
                }
                self.store.remove_published(path).await?;
                continue;
            };
            let ih = rec.info_hash.to_hex();
            if vo::federable(row, &rec.content_type).is_err() {
                continue;
            }
            let Some(view) = self.library.by_uuid(&row.uuid) else {
                report.waiting += 1;
                continue;
            };
            match (&row.announced_info_hash, row.announced_at_ms) {
                (None, _) | (_, None) => {
                    self.send_create(row, &view).await?;
                    report.created += 1;
                }
                (Some(a), Some(at)) if *a != ih || row.updated_at_ms > at => {
                    self.send_update(row, &view).await?;
                    report.updated += 1;
                }
                _ => continue,
            }
            self.store.set_announced(path, &ih, timestamp_ms()).await?;
        }
        self.load().await?;
        if report.probed + report.created + report.updated + report.deleted > 0 {
            tracing::info!("published: {} read, {} created, {} updated, {} deleted", report.probed, report.created, report.updated, report.deleted);
        }
        Ok(report)
    }

    async fn load_images_only(&self) -> Result<(), PublishError> {
        let mut sizes: HashMap<String, Vec<ImageSize>> = HashMap::new();
        for (uuid, kind, w, h) in self.store.video_image_sizes().await? {
            sizes.entry(uuid).or_default().push(ImageSize { preview: kind == "preview", width: w as u32, height: h as u32 });
        }
        for v in sizes.values_mut() {
            v.sort_by_key(|i| i.preview);
        }
        *self.images.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(sizes);
        Ok(())
    }

    /// Reads a file's facts and makes its images (on a blocking thread), and records them.
    async fn read_file(&self, row: &PublishedVideo, ih: &str) -> Result<PublishedVideo, PublishError> {
        let file = self.library.root().join(&row.path);
        let (facts, imgs) = tokio::task::spawn_blocking(move || {
            let facts = std::fs::File::open(&file).map_err(|e| media::MediaError::Io(e.to_string())).and_then(|mut f| media::probe(&mut f));
            let imgs = facts.as_ref().ok().map(|f| images::make(&file, f.duration_s));
            (facts, imgs)
        })
        .await
        .map_err(|e| PublishError::Invalid(format!("reading {}: {e}", row.path)))?;
        for img in imgs.iter().flatten() {
            let kind = if img.preview { "preview" } else { "thumbnail" };
            self.store.put_video_image(&row.uuid, kind, &img.jpeg, img.width, img.height).await?;
        }
        let facts = facts.map(|f| (f.duration_s as i64, i64::from(f.width), i64::from(f.height), i64::from(f.fps))).map_err(|e| {
            tracing::warn!("{} is not federated: {e}", row.path);
            e.to_string()
        });
        self.store.set_media_facts(&row.path, ih, facts, timestamp_ms()).await?;
        Ok(self.store.published_by_uuid(&row.uuid).await?.unwrap_or_else(|| row.clone()))
    }

    fn image_sizes(&self, uuid: &str) -> Vec<ImageSize> {
        self.images.read().unwrap_or_else(|p| p.into_inner()).get(uuid).cloned().unwrap_or_default()
    }

    /// The Video object of a video some node serves and PeerTube can play.
    pub fn video_document(&self, uuid: &str) -> Option<Value> {
        let row = self.row(uuid)?;
        let view = self.library.by_uuid(uuid)?;
        vo::federable(&row, &view.content_type).ok()?;
        Some(vo::video_object(&self.actors, &row, &view, &self.image_sizes(uuid)))
    }

    fn object_of(&self, row: &PublishedVideo, view: &crate::video::Video) -> Value {
        vo::video_object(&self.actors, row, view, &self.image_sizes(&row.uuid))
    }

    /// The inboxes of the followers of the instance, the channel and the account (as asked),
    /// each shared inbox once, never ours.
    async fn inboxes(&self, instance: bool, channel: bool, account: bool) -> Result<Vec<String>, PublishError> {
        let mut all = Vec::new();
        if instance {
            for f in self.store.follows(FollowDirection::Follower, Some(FollowState::Accepted)).await? {
                all.push(f.shared_inbox.unwrap_or(f.inbox));
            }
        }
        for (wanted, role) in [(channel, Role::Channel), (account, Role::Account)] {
            if wanted {
                for f in self.store.local_followers(role.as_str(), 0, u64::MAX >> 1).await? {
                    all.push(f.shared_inbox.unwrap_or(f.inbox));
                }
            }
        }
        let own = self.actors.instance.shared_inbox();
        let mut seen = HashSet::new();
        Ok(all.into_iter().filter(|i| *i != own && seen.insert(i.clone())).collect())
    }

    async fn send_create(&self, row: &PublishedVideo, view: &crate::video::Video) -> Result<(), PublishError> {
        let object = self.object_of(row, view);
        let url = vo::video_url(&self.actors.instance.base, &row.uuid);
        let create = vo::create(&self.actors, &object);
        self.fed.send_as(&create, &self.inboxes(false, false, true).await?, Some(&self.account)).await?;
        let everyone = self.inboxes(true, true, true).await?;
        self.fed.send_as(&vo::announce(&self.actors, &url, Sharer::Instance), &everyone, None).await?;
        self.fed.send_as(&vo::announce(&self.actors, &url, Sharer::Channel), &everyone, Some(&self.channel)).await?;
        Ok(())
    }

    async fn send_update(&self, row: &PublishedVideo, view: &crate::video::Video) -> Result<(), PublishError> {
        let update = vo::update(&self.actors, &self.object_of(row, view));
        self.fed.send_as(&update, &self.inboxes(true, true, true).await?, Some(&self.account)).await?;
        Ok(())
    }

    async fn send_delete(&self, row: &PublishedVideo) -> Result<(), PublishError> {
        let url = vo::video_url(&self.actors.instance.base, &row.uuid);
        self.fed.send_as(&vo::delete(&self.actors, &url), &self.inboxes(true, true, true).await?, Some(&self.account)).await?;
        Ok(())
    }

    /// Applies the admin's edit; the Update follows at once (the publisher is woken).
    pub async fn edit(&self, uuid: &str, edit: &VideoEdit) -> Result<PublishedVideo, PublishError> {
        let row = self.store.published_by_uuid(uuid).await?.ok_or_else(|| PublishError::NotFound(uuid.to_owned()))?;
        if edit.is_empty() {
            return Err(PublishError::Invalid("nothing to change: give --title, --description, --language, --licence, --category or --tag".into()));
        }
        let old = Metadata {
            title: row.title.clone(),
            description: row.description.clone(),
            language: row.language.clone(),
            licence: row.licence,
            category: row.category,
            tags: row.tag_list(),
        };
        let m = edit.apply(&old).map_err(PublishError::Invalid)?;
        let mut next = row.clone();
        next.title = m.title;
        next.description = m.description;
        next.language = m.language;
        next.licence = m.licence;
        next.category = m.category;
        next.tags = serde_json::to_string(&m.tags).unwrap_or_else(|_| "[]".into());
        // After the last announcement, so that it is seen as newer.
        let at = timestamp_ms().max(row.announced_at_ms.unwrap_or(0) + 1);
        let stored = self.store.edit_published(&next, at).await?.ok_or_else(|| PublishError::NotFound(uuid.to_owned()))?;
        self.load().await?;
        self.poke();
        Ok(stored)
    }

    /// The announced videos, newest first (what the outboxes list).
    fn announced(&self) -> Vec<PublishedVideo> {
        let mut v: Vec<PublishedVideo> = self.rows().values().filter(|r| r.announced_at_ms.is_some()).cloned().collect();
        v.sort_by(|a, b| b.published_at_ms.cmp(&a.published_at_ms).then_with(|| a.uuid.cmp(&b.uuid)));
        v
    }

    /// A page of an outbox: the instance's and the channel's list their Announces, the
    /// account's its Creates (with the objects), as PeerTube's do. `None`: the collection.
    pub fn outbox(&self, by: Option<Role>, id: &str, page: Option<usize>) -> Value {
        use crate::activitypub::actor::{collection_of, PAGE_SIZE};
        let all = self.announced();
        let items: Vec<Value> = match page {
            None => Vec::new(),
            Some(p) => all
                .iter()
                .skip((p - 1).saturating_mul(PAGE_SIZE))
                .take(PAGE_SIZE)
                .filter_map(|row| {
                    let url = vo::video_url(&self.actors.instance.base, &row.uuid);
                    match by {
                        None => Some(vo::announce(&self.actors, &url, Sharer::Instance)),
                        Some(Role::Channel) => Some(vo::announce(&self.actors, &url, Sharer::Channel)),
                        Some(Role::Account) => self.library.by_uuid(&row.uuid).map(|view| vo::create(&self.actors, &self.object_of(row, &view))),
                    }
                })
                .map(|mut a| {
                    if let Some(o) = a.as_object_mut() {
                        o.remove("@context");
                    }
                    a
                })
                .collect(),
        };
        collection_of(id, all.len(), page, items)
    }

    /// A local actor's document.
    pub fn actor_document(&self, role: Role) -> Value {
        let keys = match role {
            Role::Account => &self.account.keys,
            Role::Channel => &self.channel.keys,
        };
        self.actors.document(role, keys.public_pem(), &self.published)
    }

    /// A local actor's followers (their actor URLs), paged.
    pub async fn followers(&self, role: Role, id: &str, page: Option<usize>) -> Result<Value, PublishError> {
        use crate::activitypub::actor::{collection_of, PAGE_SIZE};
        let total = self.store.count_local_followers(role.as_str()).await? as usize;
        let items = match page {
            Some(p) => self
                .store
                .local_followers(role.as_str(), ((p - 1) * PAGE_SIZE) as u64, PAGE_SIZE as u64)
                .await?
                .into_iter()
                .map(|f| Value::String(f.actor_url))
                .collect(),
            None => Vec::new(),
        };
        Ok(collection_of(id, total, page, items))
    }

    /// An Announce of one of our videos, at its id.
    pub fn announce_document(&self, uuid: &str, which: &str) -> Option<Value> {
        self.row(uuid).filter(|r| r.announced_at_ms.is_some())?;
        let by = match which {
            "instance" => Sharer::Instance,
            "channel" => Sharer::Channel,
            _ => return None,
        };
        Some(vo::announce(&self.actors, &vo::video_url(&self.actors.instance.base, uuid), by))
    }

    /// The ids of a video's Announces (its `shares` collection).
    pub fn shares(&self, uuid: &str) -> Vec<Value> {
        let url = vo::video_url(&self.actors.instance.base, uuid);
        match self.row(uuid) {
            Some(r) if r.announced_at_ms.is_some() => [Sharer::Instance, Sharer::Channel].iter().map(|s| Value::String(vo::announce_id(&url, *s))).collect(),
            _ => Vec::new(),
        }
    }

    /// Hosts keeping a checked copy of each video (by info-hash, hex).
    pub async fn cached_at(&self) -> Result<HashMap<String, BTreeSet<String>>, PublishError> {
        let mut out: HashMap<String, BTreeSet<String>> = HashMap::new();
        for c in self.store.received_copies().await? {
            if c.verified_at_ms.is_some() {
                let host = crate::activitypub::fetch::host_of(&c.href).unwrap_or(c.href.clone());
                out.entry(c.info_hash.to_hex()).or_default().insert(host);
            }
        }
        Ok(out)
    }
}
