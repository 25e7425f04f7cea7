-- Delivery reports (bounces) read back from the sending mailboxes, and what
-- they say of each recipient of each mail. Keyed by the mail's uid, not its
-- outbox id, so mail sent directly (not through the outbox) is covered too.

-- One row per report read: (mailbox, provider_id) is unique, so a report is
-- recorded once however often a listing returns it. `parsed` is false for a
-- report set aside as unreadable (`error_reason` says why); `recipients` is
-- the per-recipient result as JSON.
CREATE TABLE delivery_report (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    mailbox             TEXT    NOT NULL,
    provider_id         TEXT    NOT NULL,
    report_message_id   TEXT,
    received_at         INTEGER,
    original_message_id TEXT,
    mail_uid            TEXT,
    original_subject    TEXT,
    format              TEXT,
    parsed              BOOLEAN NOT NULL,
    error_reason        TEXT,
    recipients          TEXT    NOT NULL DEFAULT '[]',
    created_at          INTEGER NOT NULL,
    UNIQUE (mailbox, provider_id)
);
CREATE INDEX delivery_report_created ON delivery_report (created_at);
CREATE INDEX delivery_report_mail ON delivery_report (mail_uid);

-- Per mail and recipient (address in lowercase), the latest state a report
-- gave: `bounced` is never replaced, `delayed` is replaced by any later state.
-- `matched` is false for an address that is none of the queued mail's
-- recipients, NULL when the mail's recipients are not known (direct sends).
CREATE TABLE delivery_status (
    mail_uid   TEXT    NOT NULL,
    address    TEXT    NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('bounced', 'delayed', 'delivered')),
    status     TEXT,
    kind       TEXT,
    diagnostic TEXT,
    remote_mta TEXT,
    report_id  INTEGER NOT NULL REFERENCES delivery_report (id) ON DELETE CASCADE,
    matched    BOOLEAN,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (mail_uid, address)
);
CREATE INDEX delivery_status_state ON delivery_status (state, mail_uid);

-- Per mailbox, where the last report listing stopped (the provider's cursor;
-- empty before the first report), and a lease so that with several nodes one
-- reads a mailbox's reports at a time.
CREATE TABLE delivery_cursor (
    mailbox      TEXT    PRIMARY KEY,
    cursor       TEXT    NOT NULL DEFAULT '',
    updated_at   INTEGER NOT NULL,
    locked_by    TEXT,
    locked_until INTEGER NOT NULL DEFAULT 0
);
