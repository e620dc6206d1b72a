-- The control plane's state, SQLite dialect. Keep in step with ../postgres/0001_init.sql.

-- Key/value settings changed through the admin API.
CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- The video library, one row per published file.
CREATE TABLE videos (
    path         TEXT    NOT NULL PRIMARY KEY,             -- library-relative, '/'-separated
    name         TEXT    NOT NULL,
    size         INTEGER NOT NULL CHECK (size >= 0),
    mtime_ms     INTEGER NOT NULL,
    content_type TEXT    NOT NULL,
    piece_length INTEGER NOT NULL CHECK (piece_length >= 0),
    info_hash    BLOB    NOT NULL CHECK (length(info_hash) = 20),
    info         BLOB    NOT NULL,                          -- the bencoded info dictionary
    added_at_ms  INTEGER NOT NULL
) STRICT;

CREATE INDEX videos_by_info_hash ON videos (info_hash);

-- The change log the data nodes follow. Sequence numbers come from change_log.last_seq, which
-- every writer increments first in its transaction: writers are serialized, numbers are dense
-- (a rolled-back transaction gives its number back) and commit in order.
CREATE TABLE changes (
    seq  INTEGER NOT NULL PRIMARY KEY CHECK (seq > 0),
    kind TEXT    NOT NULL CHECK (kind IN ('video', 'settings')),
    path TEXT    NOT NULL
) STRICT;

-- One row: the last sequence number handed out and the last one pruned from `changes`.
CREATE TABLE change_log (
    id             INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    last_seq       INTEGER NOT NULL CHECK (last_seq >= 0),
    pruned_through INTEGER NOT NULL CHECK (pruned_through >= 0 AND pruned_through <= last_seq)
) STRICT;

INSERT INTO change_log (id, last_seq, pruned_through) VALUES (1, 0, 0);

-- Data nodes. A name is never reused, even after its node was revoked.
CREATE TABLE nodes (
    name          TEXT    NOT NULL PRIMARY KEY,
    public_url    TEXT    NOT NULL,
    token_sha256  TEXT    NOT NULL,                         -- hex SHA-256 of the node's token
    revoked       INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    created_at_ms INTEGER NOT NULL,
    folders       TEXT    NOT NULL DEFAULT '[]',            -- JSON array of strings
    last_seen_ms  INTEGER,
    acked_seq     INTEGER CHECK (acked_seq >= 0),
    rejected      TEXT    NOT NULL DEFAULT '[]',            -- JSON array of [path, reason]
    stats_json    TEXT,
    stats_at_ms   INTEGER
) STRICT;
