-- The embedded pub/sub reads the outbox in place: on the embedded default
-- the outbox is the log (an event stays until retention trims it) and each
-- subscription is a cursor over it; no relay copies events anywhere. (With
-- Dapr's pub/sub a relay still drains the outbox; these go unused.)
CREATE INDEX IF NOT EXISTS outbox_topic ON outbox (topic, seq);
-- SSE replay: one user's events on a topic after a sequence number.
CREATE INDEX IF NOT EXISTS outbox_topic_partition ON outbox (topic, partition_key, seq);
CREATE TABLE IF NOT EXISTS pubsub_cursor (
    subscription TEXT PRIMARY KEY,
    topic        TEXT NOT NULL,
    -- the outbox seq delivered up to
    position     INTEGER NOT NULL,
    -- when it last moved (ms since the epoch): a cursor left behind for a
    -- week (a removed subscription) no longer holds retention back
    moved_at     INTEGER NOT NULL
);
-- Events a subscription gave up on, filed under its dead-letter topic.
CREATE TABLE IF NOT EXISTS pubsub_dead_letter (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    topic         TEXT NOT NULL,
    subscription  TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    partition_key TEXT NOT NULL,
    event         TEXT NOT NULL,
    reason        TEXT NOT NULL,
    at_millis     INTEGER NOT NULL,
    UNIQUE (topic, subscription, event_id)
);
-- The log's identity: SSE event ids carry it, so an id from another
-- database (another replica, a wiped data directory) gets a resync.
CREATE TABLE IF NOT EXISTS todo_host_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO todo_host_meta (key, value) VALUES ('log_id', lower(hex(randomblob(4))));
