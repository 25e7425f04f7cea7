-- The durable outbox (SQLite). Times are milliseconds since the Unix epoch, UTC.
CREATE TABLE outbox_mail (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    uid                 TEXT    NOT NULL UNIQUE,
    user_name           TEXT    NOT NULL,
    mailbox             TEXT,
    subject             TEXT    NOT NULL,
    recipients          TEXT    NOT NULL,
    state               TEXT    NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
    needs_lookup        BOOLEAN NOT NULL DEFAULT FALSE,
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    sent_at             INTEGER,
    locked_by           TEXT,
    locked_until        INTEGER,
    guarantee           TEXT    CHECK (guarantee IN ('exactly-once', 'at-least-once')),
    route               TEXT,
    provider            TEXT,
    internet_message_id TEXT,
    request_id          TEXT,
    server_reply        TEXT,
    recovered           BOOLEAN NOT NULL DEFAULT FALSE,
    last_error_kind     TEXT,
    last_error_code     TEXT,
    last_error_message  TEXT,
    last_error_remedy   TEXT,
    message_format      INTEGER NOT NULL,
    message             TEXT    NOT NULL
);

CREATE INDEX outbox_mail_due ON outbox_mail (state, next_attempt_at);
CREATE INDEX outbox_mail_sent_at ON outbox_mail (sent_at) WHERE state = 'sent';

CREATE TABLE outbox_attempt (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    mail_id       INTEGER NOT NULL REFERENCES outbox_mail (id) ON DELETE CASCADE,
    action        TEXT    NOT NULL CHECK (action IN ('send', 'lookup')),
    worker        TEXT    NOT NULL,
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    result        TEXT    NOT NULL,
    route         TEXT,
    error_kind    TEXT,
    error_code    TEXT,
    error_message TEXT,
    request_id    TEXT,
    server_reply  TEXT
);

CREATE INDEX outbox_attempt_mail ON outbox_attempt (mail_id, id);
