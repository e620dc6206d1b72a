-- Federation state, PostgreSQL dialect. Keep in step with ../sqlite/0002_federation.sql.

-- Remote actors as last fetched: where to deliver to them and the key their requests are
-- signed with.
CREATE TABLE remote_actors (
    url            TEXT    NOT NULL PRIMARY KEY,
    inbox          TEXT    NOT NULL,
    shared_inbox   TEXT,
    public_key_pem TEXT    NOT NULL,
    key_id         TEXT    NOT NULL,
    fetched_at_ms  BIGINT  NOT NULL
);

CREATE INDEX remote_actors_by_key_id ON remote_actors (key_id);

-- Follows in both directions: 'follower' rows are remote actors following us, 'following'
-- rows are remote actors we follow. `score` measures the remote's delivery health: it starts
-- at 1000, is capped at 10 000, and a follow whose score falls to 0 or below is deleted.
CREATE TABLE follows (
    direction          TEXT    NOT NULL CHECK (direction IN ('follower', 'following')),
    actor_url          TEXT    NOT NULL,
    host               TEXT    NOT NULL,
    inbox              TEXT    NOT NULL,
    shared_inbox       TEXT,
    state              TEXT    NOT NULL CHECK (state IN ('pending', 'accepted', 'rejected')),
    follow_activity_id TEXT    NOT NULL,
    score              BIGINT  NOT NULL DEFAULT 1000 CHECK (score <= 10000),
    created_at_ms      BIGINT  NOT NULL,
    updated_at_ms      BIGINT  NOT NULL,
    PRIMARY KEY (direction, actor_url)
);

CREATE INDEX follows_listing ON follows (direction, created_at_ms, actor_url);
CREATE INDEX follows_by_host ON follows (host);
CREATE INDEX follows_by_activity_id ON follows (follow_activity_id);

-- Hosts the admin blocked.
CREATE TABLE blocked_hosts (
    host  TEXT    NOT NULL PRIMARY KEY,
    at_ms BIGINT  NOT NULL
);

-- Activities received, stored before the inbox answers and processed afterwards. An activity
-- id is kept once: a second delivery of the same id is recognised as a duplicate.
CREATE TABLE inbox (
    id              BIGINT  NOT NULL GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    activity_id     TEXT,
    actor           TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    received_at_ms  BIGINT  NOT NULL,
    processed_at_ms BIGINT,
    error           TEXT
);

CREATE UNIQUE INDEX inbox_by_activity_id ON inbox (activity_id) WHERE activity_id IS NOT NULL;
CREATE INDEX inbox_unprocessed ON inbox (id) WHERE processed_at_ms IS NULL;

-- Outgoing deliveries, one row per (activity, inbox). A worker claims due rows by pushing
-- their next_at_ms past a lease; a row it never reports on comes back when the lease ends.
CREATE TABLE deliveries (
    id              BIGINT  NOT NULL GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    activity_id     TEXT    NOT NULL,
    inbox_url       TEXT    NOT NULL CHECK (inbox_url <> ''),
    host            TEXT    NOT NULL CHECK (host <> ''),
    body            TEXT    NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_at_ms      BIGINT  NOT NULL,
    last_error      TEXT,
    created_at_ms   BIGINT  NOT NULL,
    delivered_at_ms BIGINT,
    gave_up_at_ms   BIGINT
);

CREATE INDEX deliveries_due ON deliveries (delivered_at_ms, gave_up_at_ms, next_at_ms);
CREATE INDEX deliveries_by_activity_id ON deliveries (activity_id);
