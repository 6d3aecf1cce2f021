-- The durable outbox: a message is queued in the transaction of the action that causes it
-- and delivered by the worker (src/mail/worker.rs). `body` is sealed (see src/mail/seal.rs):
-- it holds privacy links and badge codes, which the database must not reveal on its own.
-- `recipient` and `body` are personal data: erasure deletes unsent messages and clears them
-- on sent ones. A claim sets `status` to 'sending' with `lease_owner`/`lease_until`; an
-- expired lease makes the message claimable again.
CREATE TABLE mail_outbox (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT REFERENCES events(id),
    attendee_id TEXT,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX mail_outbox_due ON mail_outbox(status, next_attempt_at);
CREATE INDEX mail_outbox_event ON mail_outbox(event_id, created_at);
CREATE INDEX mail_outbox_attendee ON mail_outbox(attendee_id);
-- No sample values of personal columns in pg_statistic (see migration 000008).
ALTER TABLE mail_outbox ALTER COLUMN recipient SET STATISTICS 0, ALTER COLUMN body SET STATISTICS 0;
