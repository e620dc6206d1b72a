-- The instance's own videos as the fediverse sees them, SQLite dialect. Keep in step with
-- ../postgres/0006_published_videos.sql.

-- One row per video of the library (by its library path): its stable UUID, the metadata the
-- admin edits (a title from the file name at first), the facts read from the file
-- (`probed_info_hash`: the file they were read from), and what was federated
-- (`announced_info_hash`/`announced_at_ms`: the file and time of the last Create or Update
-- queued). `tags` is a JSON array of strings.
CREATE TABLE published_videos (
    path                TEXT    NOT NULL PRIMARY KEY,
    uuid                TEXT    NOT NULL UNIQUE,
    title               TEXT    NOT NULL,
    description         TEXT,
    language            TEXT,
    licence             INTEGER,
    category            INTEGER,
    tags                TEXT    NOT NULL DEFAULT '[]',
    duration_s          INTEGER,
    width               INTEGER,
    height              INTEGER,
    fps                 INTEGER,
    probe_error         TEXT,
    probed_info_hash    TEXT,
    announced_info_hash TEXT,
    announced_at_ms     INTEGER,
    published_at_ms     INTEGER NOT NULL,
    updated_at_ms       INTEGER NOT NULL
) STRICT;

-- The thumbnail and preview of each video (JPEG), served at stable URLs.
CREATE TABLE video_images (
    uuid   TEXT    NOT NULL,
    kind   TEXT    NOT NULL CHECK (kind IN ('thumbnail', 'preview')),
    bytes  BLOB    NOT NULL,
    width  INTEGER NOT NULL,
    height INTEGER NOT NULL,
    PRIMARY KEY (uuid, kind)
) STRICT;

-- Followers of the instance's account and channel actors (the instance actor's are in
-- `follows`): who, where to deliver, and the Follow's id.
CREATE TABLE local_actor_followers (
    local_actor        TEXT    NOT NULL,
    actor_url          TEXT    NOT NULL,
    host               TEXT    NOT NULL,
    inbox              TEXT    NOT NULL,
    shared_inbox       TEXT,
    follow_activity_id TEXT    NOT NULL,
    created_at_ms      INTEGER NOT NULL,
    PRIMARY KEY (local_actor, actor_url)
) STRICT;
