-- Global per-mailbox limits, shared by every worker of every node.
-- A mail holds one of its mailbox's in-flight slots while `in_flight` is set
-- and its lease (`locked_until`) is alive, so a dead worker's slots come back
-- when its lease runs out.
ALTER TABLE outbox_mail ADD COLUMN in_flight BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX outbox_mail_in_flight ON outbox_mail (mailbox) WHERE in_flight;
CREATE INDEX outbox_mail_mailbox_state ON outbox_mail (mailbox, state);

-- One row per sending mailbox: the sends started in the current window (as
-- "bucket:count" pairs), when it may start the next one, and counters.
CREATE TABLE outbox_mailbox (
    mailbox         TEXT   PRIMARY KEY,
    starts          TEXT   NOT NULL DEFAULT '',
    blocked_until   BIGINT NOT NULL DEFAULT 0,
    paused_until    BIGINT NOT NULL DEFAULT 0,
    sent_count      BIGINT NOT NULL DEFAULT 0,
    failed_count    BIGINT NOT NULL DEFAULT 0,
    retried_count   BIGINT NOT NULL DEFAULT 0,
    unknown_count   BIGINT NOT NULL DEFAULT 0,
    throttled_count BIGINT NOT NULL DEFAULT 0
);

-- Sends made outside the outbox (MailBridge::send_as, g360-mail send) to a
-- mailbox that shares the outbox's limits: each holds an in-flight slot while
-- its lease is alive.
CREATE TABLE outbox_direct (
    id          BIGSERIAL PRIMARY KEY,
    mailbox     TEXT    NOT NULL,
    holder      TEXT    NOT NULL,
    lease_until BIGINT  NOT NULL
);
CREATE INDEX outbox_direct_mailbox ON outbox_direct (mailbox, lease_until);
