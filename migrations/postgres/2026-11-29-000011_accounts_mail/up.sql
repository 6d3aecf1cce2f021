-- One-time links that let a user set a password: an invitation (72 h) or a password reset
-- (1 h). Only the SHA-256 of the token is stored; `used_at` makes a link single use.
CREATE TABLE account_links (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    purpose TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX account_links_user ON account_links(user_id, purpose);

-- A partner told to delete what it received about a participant (erasure or withdrawal).
-- `released_name` is the name as the partner received it (NULL if the name was never
-- released to it), sealed like outbox bodies; it is cleared when the partner acknowledges.
CREATE TABLE deletion_notices (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL REFERENCES events(id),
    partner_id TEXT NOT NULL REFERENCES partners(id),
    attendee_id TEXT NOT NULL,
    lead_id TEXT,
    released_name TEXT,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    acknowledged_at BIGINT,
    acknowledged_by TEXT
);
CREATE INDEX deletion_notices_partner ON deletion_notices(partner_id, created_at);
CREATE INDEX deletion_notices_event ON deletion_notices(event_id, acknowledged_at, created_at);
