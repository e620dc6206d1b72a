//! Remote actors the instance met (does I/O): their inboxes and public keys, cached.

use super::*;

impl Store {
    // ---- remote actors ----

    /// Adds or replaces (by URL) a remote actor, storing every field as given.
    pub async fn put_remote_actor(&self, actor: &RemoteActor) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(concat!(
                "INSERT INTO remote_actors (",
                remote_actor_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (url) DO UPDATE SET inbox = excluded.inbox, \
                 shared_inbox = excluded.shared_inbox, public_key_pem = excluded.public_key_pem, \
                 key_id = excluded.key_id, fetched_at_ms = excluded.fetched_at_ms"
            ))
            .bind(&actor.url)
            .bind(&actor.inbox)
            .bind(&actor.shared_inbox)
            .bind(&actor.public_key_pem)
            .bind(&actor.key_id)
            .bind(actor.fetched_at_ms)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    pub async fn remote_actor(&self, url: &str) -> Result<Option<RemoteActor>, StoreError> {
        Ok(read!(self, |db| {
            sqlx::query_as(concat!(
                "SELECT ",
                remote_actor_columns!(),
                " FROM remote_actors WHERE url = $1"
            ))
            .bind(url)
            .fetch_optional(db)
            .await?
        }))
    }

    /// The actor advertising this key id (the most recently fetched, should several).
    pub async fn remote_actor_by_key_id(
        &self,
        key_id: &str,
    ) -> Result<Option<RemoteActor>, StoreError> {
        Ok(read!(self, |db| {
            sqlx::query_as(concat!(
                "SELECT ",
                remote_actor_columns!(),
                " FROM remote_actors WHERE key_id = $1 ORDER BY fetched_at_ms DESC, url LIMIT 1"
            ))
            .bind(key_id)
            .fetch_optional(db)
            .await?
        }))
    }
}
