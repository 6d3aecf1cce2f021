-- Double opt-in (issue 13, point 3). An opt-in given on the public form takes effect only
-- once the participant confirmed the address through the link in the confirmation mail:
-- `consents.confirmed_at` is that time, and the gate ignores opt-ins where it is NULL.
-- Opt-ins entered by staff (API, import) or by the participant on their privacy page are
-- confirmed when recorded. Rows that exist already were released under the old rule and
-- are kept in effect: they count as confirmed at `granted_at`.
ALTER TABLE consents ADD COLUMN confirmed_at BIGINT;
UPDATE consents SET confirmed_at = granted_at;

-- The confirmation links: single use, only their SHA-256 is stored.
CREATE TABLE opt_in_confirmations (
    token_hash TEXT PRIMARY KEY NOT NULL,
    attendee_id TEXT NOT NULL REFERENCES attendees(id),
    created_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX opt_in_confirmations_attendee ON opt_in_confirmations(attendee_id);
-- The per-address limit of reminder mails counts recent outbox rows of one recipient.
CREATE INDEX mail_outbox_recipient ON mail_outbox(recipient, created_at);

-- Breach notices (issue 13, point 6): when the participant notice of an incident was
-- queued. Set once; a second send is refused.
ALTER TABLE incidents ADD COLUMN participants_notified_at BIGINT;
