-- The transactional outbox: the host writes events here inside the
-- component's transaction, and its relay drains them to the pub/sub backend.
-- (Databases made before the host owned this table already have it.)
CREATE TABLE IF NOT EXISTS outbox (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id      TEXT NOT NULL UNIQUE,
    topic         TEXT NOT NULL,
    partition_key TEXT NOT NULL,
    event         TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
