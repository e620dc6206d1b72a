-- A copy that failed (its order could not be made, or every node's import failed) is tried again
-- later: how many failures since it last worked, and when the next try is due (NULL: none
-- pending). PostgreSQL dialect; keep in step with ../sqlite/0006_copy_retries.sql.
ALTER TABLE redundancy_copies ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0 CHECK (attempts >= 0);
ALTER TABLE redundancy_copies ADD COLUMN retry_at_ms BIGINT;
