//! The instance's own videos as federated (does I/O): each library video's UUID, metadata,
//! media facts and what was last announced (`published_videos`); their images
//! (`video_images`); the followers of the instance's account and channel
//! (`local_actor_followers`).

use super::*;

/// A video of the library as the fediverse knows it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct PublishedVideo {
    /// Its library path (the key: a renamed file is another video).
    pub path: String,
    pub uuid: String,
    pub title: String,
    pub description: Option<String>,
    pub language: Option<String>,
    pub licence: Option<i64>,
    pub category: Option<i64>,
    /// A JSON array of strings.
    pub tags: String,
    pub duration_s: Option<i64>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub fps: Option<i64>,
    /// Why the file's facts could not be read (the video is not federated then).
    pub probe_error: Option<String>,
    /// The file (info-hash, hex) the facts were read from.
    pub probed_info_hash: Option<String>,
    /// The file (info-hash, hex) of the last Create or Update queued, and when.
    pub announced_info_hash: Option<String>,
    pub announced_at_ms: Option<i64>,
    pub published_at_ms: i64,
    pub updated_at_ms: i64,
}

impl PublishedVideo {
    /// The tags as a list (an unreadable column is no tags).
    pub fn tag_list(&self) -> Vec<String> {
        serde_json::from_str(&self.tags).unwrap_or_default()
    }
}

/// A follower of the account or channel actor.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct LocalFollower {
    pub local_actor: String,
    pub actor_url: String,
    pub host: String,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    pub follow_activity_id: String,
    pub created_at_ms: i64,
}

/// An image of a video.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct VideoImage {
    pub bytes: Vec<u8>,
    pub width: i64,
    pub height: i64,
}

macro_rules! published_columns {
    () => {
        "path, uuid, title, description, language, licence, category, tags, duration_s, width, \
         height, fps, probe_error, probed_info_hash, announced_info_hash, announced_at_ms, \
         published_at_ms, updated_at_ms"
    };
}

impl Store {
    /// Adds a video (if its path has no row yet) and returns the row stored for the path: the
    /// new one, or the one that was there (its UUID never changes).
    pub async fn ensure_published(&self, path: &str, uuid: &str, title: &str, at_ms: i64) -> Result<PublishedVideo, StoreError> {
        Ok(write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO published_videos (path, uuid, title, tags, published_at_ms, updated_at_ms) \
                 VALUES ($1, $2, $3, '[]', $4, $4) ON CONFLICT (path) DO NOTHING",
            )
            .bind(path)
            .bind(uuid)
            .bind(title)
            .bind(at_ms)
            .execute(&mut *tx)
            .await?;
            let row: PublishedVideo = sqlx::query_as(concat!("SELECT ", published_columns!(), " FROM published_videos WHERE path = $1"))
                .bind(path)
                .fetch_one(&mut *tx)
                .await?;
            row
        }))
    }

    /// Every published video, by path.
    pub async fn published_videos(&self) -> Result<Vec<PublishedVideo>, StoreError> {
        Ok(read!(self, |db| {
            sqlx::query_as(concat!("SELECT ", published_columns!(), " FROM published_videos ORDER BY path")).fetch_all(db).await?
        }))
    }

    pub async fn published_by_uuid(&self, uuid: &str) -> Result<Option<PublishedVideo>, StoreError> {
        Ok(read!(self, |db| {
            sqlx::query_as(concat!("SELECT ", published_columns!(), " FROM published_videos WHERE uuid = $1"))
                .bind(uuid)
                .fetch_optional(db)
                .await?
        }))
    }

    /// Records what was read from the file `info_hash` (facts, or why they could not be read).
    pub async fn set_media_facts(&self, path: &str, info_hash: &str, facts: Result<(i64, i64, i64, i64), String>, at_ms: i64) -> Result<(), StoreError> {
        let (d, w, h, f, err) = match facts {
            Ok((d, w, h, f)) => (Some(d), Some(w), Some(h), Some(f), None),
            Err(e) => (None, None, None, None, Some(e)),
        };
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE published_videos SET duration_s = $2, width = $3, height = $4, fps = $5, probe_error = $6, \
                 probed_info_hash = $7, updated_at_ms = $8 WHERE path = $1",
            )
            .bind(path)
            .bind(d)
            .bind(w)
            .bind(h)
            .bind(f)
            .bind(err)
            .bind(info_hash)
            .bind(at_ms)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// Records that a Create or Update of the file `info_hash` was queued at `at_ms`.
    pub async fn set_announced(&self, path: &str, info_hash: &str, at_ms: i64) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("UPDATE published_videos SET announced_info_hash = $2, announced_at_ms = $3 WHERE path = $1")
                .bind(path)
                .bind(info_hash)
                .bind(at_ms)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }

    /// Replaces the admin's metadata of a video; the row as stored, or None for an unknown UUID.
    pub async fn edit_published(&self, v: &PublishedVideo, at_ms: i64) -> Result<Option<PublishedVideo>, StoreError> {
        Ok(write_tx!(self, |tx| {
            let row: Option<PublishedVideo> = sqlx::query_as(concat!(
                "UPDATE published_videos SET title = $2, description = $3, language = $4, licence = $5, category = $6, \
                 tags = $7, updated_at_ms = $8 WHERE uuid = $1 RETURNING ",
                published_columns!()
            ))
            .bind(&v.uuid)
            .bind(&v.title)
            .bind(&v.description)
            .bind(&v.language)
            .bind(v.licence)
            .bind(v.category)
            .bind(&v.tags)
            .bind(at_ms)
            .fetch_optional(&mut *tx)
            .await?;
            row
        }))
    }

    /// Forgets a video and its images (after its Delete was queued).
    pub async fn remove_published(&self, path: &str) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            let uuid: Option<String> = sqlx::query_scalar("DELETE FROM published_videos WHERE path = $1 RETURNING uuid")
                .bind(path)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(uuid) = uuid {
                sqlx::query("DELETE FROM video_images WHERE uuid = $1").bind(uuid).execute(&mut *tx).await?;
            }
        });
        Ok(())
    }

    /// Stores (or replaces) an image of a video.
    pub async fn put_video_image(&self, uuid: &str, kind: &str, bytes: &[u8], width: u32, height: u32) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO video_images (uuid, kind, bytes, width, height) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (uuid, kind) DO UPDATE SET bytes = excluded.bytes, width = excluded.width, height = excluded.height",
            )
            .bind(uuid)
            .bind(kind)
            .bind(bytes)
            .bind(i64::from(width))
            .bind(i64::from(height))
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    pub async fn video_image(&self, uuid: &str, kind: &str) -> Result<Option<VideoImage>, StoreError> {
        Ok(read!(self, |db| {
            sqlx::query_as("SELECT bytes, width, height FROM video_images WHERE uuid = $1 AND kind = $2")
                .bind(uuid)
                .bind(kind)
                .fetch_optional(db)
                .await?
        }))
    }

    /// The sizes of every stored image: (uuid, kind) → (width, height).
    pub async fn video_image_sizes(&self) -> Result<Vec<(String, String, i64, i64)>, StoreError> {
        Ok(read!(self, |db| { sqlx::query_as("SELECT uuid, kind, width, height FROM video_images").fetch_all(db).await? }))
    }

    // ---- followers of the account and channel ----

    /// Adds or replaces a follower of a local actor.
    pub async fn put_local_follower(&self, f: &LocalFollower) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO local_actor_followers (local_actor, actor_url, host, inbox, shared_inbox, follow_activity_id, created_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (local_actor, actor_url) DO UPDATE SET host = excluded.host, \
                 inbox = excluded.inbox, shared_inbox = excluded.shared_inbox, follow_activity_id = excluded.follow_activity_id",
            )
            .bind(&f.local_actor)
            .bind(&f.actor_url)
            .bind(&f.host)
            .bind(&f.inbox)
            .bind(&f.shared_inbox)
            .bind(&f.follow_activity_id)
            .bind(f.created_at_ms)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// Removes the follow `follow_activity_id` of `actor_url` (an Undo); whether it was there.
    pub async fn remove_local_follower(&self, local_actor: &str, actor_url: &str, follow_activity_id: &str) -> Result<bool, StoreError> {
        Ok(write_tx!(self, |tx| {
            sqlx::query("DELETE FROM local_actor_followers WHERE local_actor = $1 AND actor_url = $2 AND follow_activity_id = $3")
                .bind(local_actor)
                .bind(actor_url)
                .bind(follow_activity_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        }) > 0)
    }

    /// A local actor's followers, oldest first, `limit` from `offset`.
    pub async fn local_followers(&self, local_actor: &str, offset: u64, limit: u64) -> Result<Vec<LocalFollower>, StoreError> {
        Ok(read!(self, |db| {
            sqlx::query_as(
                "SELECT local_actor, actor_url, host, inbox, shared_inbox, follow_activity_id, created_at_ms \
                 FROM local_actor_followers WHERE local_actor = $1 ORDER BY created_at_ms, actor_url LIMIT $2 OFFSET $3",
            )
            .bind(local_actor)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(db)
            .await?
        }))
    }

    pub async fn count_local_followers(&self, local_actor: &str) -> Result<u64, StoreError> {
        let n: i64 = read!(self, |db| {
            sqlx::query_scalar("SELECT COUNT(*) FROM local_actor_followers WHERE local_actor = $1").bind(local_actor).fetch_one(db).await?
        });
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
