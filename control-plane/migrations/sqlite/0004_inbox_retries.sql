-- Received activities whose processing failed for a passing reason (the sender's actor could not
-- be fetched, the database was busy) are tried again later: how many tries so far, and when the
-- next is due. SQLite dialect; keep in step with ../postgres/0004_inbox_retries.sql.
ALTER TABLE inbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0);
ALTER TABLE inbox ADD COLUMN next_attempt_ms INTEGER;
