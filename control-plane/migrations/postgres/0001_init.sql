-- The control plane's state, PostgreSQL dialect. Keep in step with ../sqlite/0001_init.sql.

-- Key/value settings changed through the admin API.
CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);

-- The video library, one row per published file.
CREATE TABLE videos (
    path         TEXT   NOT NULL PRIMARY KEY,              -- library-relative, '/'-separated
    name         TEXT   NOT NULL,
    size         BIGINT NOT NULL CHECK (size >= 0),
    mtime_ms     BIGINT NOT NULL,
    content_type TEXT   NOT NULL,
    piece_length BIGINT NOT NULL CHECK (piece_length >= 0),
    info_hash    BYTEA  NOT NULL CHECK (octet_length(info_hash) = 20),
    info         BYTEA  NOT NULL,                           -- the bencoded info dictionary
    added_at_ms  BIGINT NOT NULL
);

CREATE INDEX videos_by_info_hash ON videos (info_hash);

-- The change log the data nodes follow. Sequence numbers come from change_log.last_seq, which
-- every writer increments first in its transaction: the row lock serializes writers, numbers
-- are dense (a rolled-back transaction gives its number back) and commit in order.
CREATE TABLE changes (
    seq  BIGINT NOT NULL PRIMARY KEY CHECK (seq > 0),
    kind TEXT   NOT NULL CHECK (kind IN ('video', 'settings')),
    path TEXT   NOT NULL
);

-- One row: the last sequence number handed out and the last one pruned from `changes`.
CREATE TABLE change_log (
    id             BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    last_seq       BIGINT NOT NULL CHECK (last_seq >= 0),
    pruned_through BIGINT NOT NULL CHECK (pruned_through >= 0 AND pruned_through <= last_seq)
);

INSERT INTO change_log (id, last_seq, pruned_through) VALUES (1, 0, 0);

-- Data nodes. A name is never reused, even after its node was revoked.
CREATE TABLE nodes (
    name          TEXT    NOT NULL PRIMARY KEY,
    public_url    TEXT    NOT NULL,
    token_sha256  TEXT    NOT NULL,                         -- hex SHA-256 of the node's token
    revoked       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at_ms BIGINT  NOT NULL,
    folders       TEXT    NOT NULL DEFAULT '[]',            -- JSON array of strings
    last_seen_ms  BIGINT,
    acked_seq     BIGINT CHECK (acked_seq >= 0),
    rejected      TEXT    NOT NULL DEFAULT '[]',            -- JSON array of [path, reason]
    stats_json    TEXT,
    stats_at_ms   BIGINT
);
