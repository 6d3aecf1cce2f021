-- A phone signed in to the scanner app (issue 15). The refresh token is
-- `<id>.<random>`; only its SHA-256 is stored, and each refresh replaces it (single use,
-- rotation), so a stale token still names its device and its reuse ends the device.
-- Like a browser session, a device holds only while its user's token version and the
-- token-key generation are those it was signed in with; `expires_at` is the event's end
-- plus its scan grace period.
CREATE TABLE devices (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    partner_id TEXT NOT NULL REFERENCES partners(id),
    event_id TEXT NOT NULL REFERENCES events(id),
    name TEXT NOT NULL,
    refresh_hash TEXT NOT NULL,
    refresh_generation INTEGER NOT NULL,
    token_version INTEGER NOT NULL,
    token_generation BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_reason TEXT
);
CREATE INDEX devices_partner ON devices(partner_id, created_at);
CREATE INDEX devices_event ON devices(event_id, created_at);
CREATE INDEX devices_user ON devices(user_id);

-- A one-time enrolment code a partner admin shows as a QR code (10 minutes, single use).
-- Only the code's SHA-256 is stored. It is good only while the scanner's token version is
-- the one it was made with, so "sign out everywhere" also ends codes not yet used.
CREATE TABLE device_enrolments (
    code_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    partner_id TEXT NOT NULL REFERENCES partners(id),
    event_id TEXT NOT NULL REFERENCES events(id),
    created_by TEXT NOT NULL REFERENCES users(id),
    token_version INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    device_id TEXT
);
CREATE INDEX device_enrolments_user ON device_enrolments(user_id);
