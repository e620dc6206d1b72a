-- Follows undone before they arrived (activities can come out of order): a Follow whose id is
-- here is not applied. PostgreSQL dialect; keep in step with ../sqlite/0003_undone_follows.sql.
CREATE TABLE undone_follows (
    follow_activity_id TEXT   NOT NULL PRIMARY KEY,
    actor_url          TEXT   NOT NULL,
    at_ms              BIGINT NOT NULL
);
