-- Tasks, their audit trail, notifications, consumer dedup, idempotent
-- creates.

CREATE TABLE task (
    id                 TEXT PRIMARY KEY,
    user_id            TEXT NOT NULL,
    title              TEXT NOT NULL,
    description        TEXT,
    completed          BOOLEAN NOT NULL DEFAULT FALSE,
    priority           TEXT NOT NULL DEFAULT 'medium' CHECK (priority IN ('low', 'medium', 'high')),
    tags               TEXT NOT NULL DEFAULT '[]',
    due_date           TEXT,
    recurrence_pattern TEXT,
    parent_task_id     TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX task_user_created ON task (user_id, created_at, id);
CREATE INDEX task_user_due ON task (user_id, due_date);
CREATE INDEX task_due_open ON task (due_date) WHERE completed = FALSE AND due_date IS NOT NULL;
-- A completed recurring task has at most one next occurrence.
CREATE UNIQUE INDEX task_one_next_occurrence ON task (parent_task_id) WHERE parent_task_id IS NOT NULL;

-- One row per tag, for the tag filter (tags keep their order in task.tags).
CREATE TABLE task_tag (
    task_id TEXT NOT NULL REFERENCES task (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    tag     TEXT NOT NULL,
    PRIMARY KEY (task_id, tag)
);
CREATE INDEX task_tag_user_tag ON task_tag (user_id, tag);

-- The audit trail: survives the task's deletion.
CREATE TABLE task_event (
    event_id       TEXT PRIMARY KEY,
    task_id        TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    version        BIGINT NOT NULL,
    event_type     TEXT NOT NULL,
    changed_fields TEXT NOT NULL,
    snapshot       TEXT,
    occurred_at    TEXT NOT NULL,
    UNIQUE (task_id, version)
);

CREATE TABLE notification (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    task_id         TEXT,
    type            TEXT NOT NULL,
    title           TEXT NOT NULL,
    body            TEXT NOT NULL,
    read            BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TEXT NOT NULL,
    source_event_id TEXT
);
CREATE INDEX notification_user_created ON notification (user_id, created_at, id);

-- Consumer idempotency: one row per (event, consumer) that was handled.
CREATE TABLE processed_event (
    event_id     TEXT NOT NULL,
    consumer     TEXT NOT NULL,
    processed_at TEXT NOT NULL,
    PRIMARY KEY (event_id, consumer)
);

-- Idempotent creates: the first response to an Idempotency-Key, replayed.
CREATE TABLE idempotency_key (
    user_id       TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
);
