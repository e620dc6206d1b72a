-- Redundancy, SQLite dialect. Keep in step with ../postgres/0005_redundancy.sql.

-- Videos of the instances this one follows, as redundancy needs them. `files_json` holds the
-- parsed web-video files and HLS playlist; `views_history` is a JSON array of [at_ms, views]
-- samples (the trending strategy counts the views of the last days from it). A video the
-- origin deleted keeps its row, marked by `deleted_at_ms`.
CREATE TABLE remote_videos (
    url           TEXT    NOT NULL PRIMARY KEY,             -- the Video's ActivityPub id
    uuid          TEXT    NOT NULL,
    host          TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    published     TEXT    NOT NULL,                         -- ISO 8601, as the origin wrote it
    published_ms  INTEGER NOT NULL,
    views         INTEGER NOT NULL CHECK (views >= 0),
    views_history TEXT    NOT NULL DEFAULT '[]',
    account       TEXT,                                     -- the origin account (attributedTo)
    files_json    TEXT    NOT NULL,
    fetched_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    deleted_at_ms INTEGER
) STRICT;

CREATE INDEX remote_videos_by_host ON remote_videos (host);
CREATE INDEX remote_videos_by_uuid ON remote_videos (uuid);

-- Copies this instance keeps of remote videos: one per web-video file, one per HLS playlist,
-- keyed by their CacheFile id. `state` is the control plane's side (preparing the order,
-- ordered, failed); the nodes' own progress is in redundancy_copy_nodes. `strategy` is
-- 'manual' or the strategy that chose the copy. `order_json` is the fetch order the nodes get.
CREATE TABLE redundancy_copies (
    id              TEXT    NOT NULL PRIMARY KEY,
    video_url       TEXT    NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('web-video', 'hls')),
    resolution      INTEGER CHECK (resolution >= 0),
    fps             INTEGER CHECK (fps >= 0),
    media_type      TEXT    NOT NULL,
    file_name       TEXT,
    size            INTEGER NOT NULL CHECK (size >= 0),
    strategy        TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('preparing', 'ordered', 'failed')),
    reason          TEXT,
    order_json      TEXT,
    serve_base      TEXT,                                   -- where it is served, once announced
    activity_suffix TEXT,                                   -- after the Create's id, once announced
    announced_at_ms INTEGER,                                -- when its Create was queued
    expires_at_ms   INTEGER,                                -- NULL: kept until removed (manual)
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL
) STRICT;

CREATE INDEX redundancy_copies_by_video ON redundancy_copies (video_url);

-- Each data node's last report on a copy.
CREATE TABLE redundancy_copy_nodes (
    copy_id       TEXT    NOT NULL REFERENCES redundancy_copies (id) ON DELETE CASCADE,
    node          TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('downloading', 'verifying', 'serving', 'failed')),
    done_bytes    INTEGER NOT NULL CHECK (done_bytes >= 0),
    total_bytes   INTEGER NOT NULL CHECK (total_bytes >= 0),
    reason        TEXT,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (copy_id, node)
) STRICT;

-- Followed hosts whose videos may be copied (PeerTube's redundancyAllowed; off unless listed).
CREATE TABLE redundancy_hosts (
    host  TEXT    NOT NULL PRIMARY KEY,
    at_ms INTEGER NOT NULL
) STRICT;

-- Copies other instances keep of this instance's videos (received CacheFiles), checked by a
-- range read before they are advertised.
CREATE TABLE received_copies (
    id             TEXT    NOT NULL PRIMARY KEY,            -- the CacheFile id
    actor          TEXT    NOT NULL,
    info_hash      BLOB    NOT NULL CHECK (length(info_hash) = 20),
    video_url      TEXT    NOT NULL,
    href           TEXT    NOT NULL,
    resolution     INTEGER,
    fps            INTEGER,
    expires_at_ms  INTEGER,
    verified_at_ms INTEGER,
    created_at_ms  INTEGER NOT NULL,
    updated_at_ms  INTEGER NOT NULL
) STRICT;

CREATE INDEX received_copies_by_info_hash ON received_copies (info_hash);
