-- On SQLite this version makes the outbox the embedded pub/sub's log
-- (cursors, dead letters, indexes). PostgreSQL runs only with Dapr's
-- pub/sub, where a relay drains the outbox: nothing changes here, and the
-- version exists so that both dialects keep one history.
SELECT 1;
