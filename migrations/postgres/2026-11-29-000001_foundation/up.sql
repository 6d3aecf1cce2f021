-- Times are BIGINT milliseconds since the Unix epoch (UTC); ids are text UUIDs made by the app.
-- The same DDL is used on both backends so that one schema.rs describes both.
CREATE TABLE events (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    venue TEXT,
    privacy_notice_version TEXT NOT NULL,
    released_fields TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE partners (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL REFERENCES events(id),
    name TEXT NOT NULL,
    leads_suspended BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);
CREATE INDEX partners_event ON partners(event_id);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    event_id TEXT REFERENCES events(id),
    partner_id TEXT REFERENCES partners(id),
    token_version INTEGER NOT NULL DEFAULT 0,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX users_partner ON users(partner_id);

CREATE TABLE attendees (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL REFERENCES events(id),
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    company TEXT,
    phone TEXT,
    address TEXT,
    marketing_emails BOOLEAN NOT NULL DEFAULT FALSE,
    search_text TEXT NOT NULL,
    privacy_token_hash TEXT UNIQUE,
    erased_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (event_id, email)
);

CREATE TABLE badges (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL REFERENCES events(id),
    attendee_id TEXT NOT NULL REFERENCES attendees(id),
    code_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX badges_attendee ON badges(attendee_id);

-- One row per opt-in; partner_id NULL means "all partners of the event".
CREATE TABLE consents (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL REFERENCES events(id),
    attendee_id TEXT NOT NULL REFERENCES attendees(id),
    partner_id TEXT REFERENCES partners(id),
    granted_at BIGINT NOT NULL,
    source TEXT NOT NULL,
    notice_version TEXT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX consents_attendee ON consents(attendee_id);
CREATE INDEX consents_partner ON consents(partner_id);

-- partner_id NULL means "all partners of the event".
CREATE TABLE withdrawals (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL REFERENCES events(id),
    attendee_id TEXT NOT NULL REFERENCES attendees(id),
    partner_id TEXT REFERENCES partners(id),
    created_at BIGINT NOT NULL,
    source TEXT NOT NULL,
    recorded_by TEXT
);
CREATE INDEX withdrawals_attendee ON withdrawals(attendee_id);

CREATE TABLE scans (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL REFERENCES events(id),
    partner_id TEXT NOT NULL REFERENCES partners(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    client_scan_id TEXT NOT NULL,
    badge_id TEXT NOT NULL REFERENCES badges(id),
    attendee_id TEXT NOT NULL REFERENCES attendees(id),
    scanned_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    notes TEXT,
    rating INTEGER,
    answers TEXT,
    UNIQUE (partner_id, client_scan_id)
);
CREATE INDEX scans_attendee ON scans(attendee_id);

CREATE TABLE leads (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL REFERENCES events(id),
    partner_id TEXT NOT NULL REFERENCES partners(id),
    attendee_id TEXT NOT NULL REFERENCES attendees(id),
    first_scanned_at BIGINT NOT NULL,
    first_scanned_by TEXT NOT NULL REFERENCES users(id),
    last_scanned_at BIGINT NOT NULL,
    notes TEXT,
    rating INTEGER,
    answers TEXT,
    updated_at BIGINT NOT NULL,
    UNIQUE (partner_id, attendee_id)
);

CREATE TABLE exports (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL REFERENCES events(id),
    partner_id TEXT NOT NULL REFERENCES partners(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    started_at BIGINT NOT NULL,
    completed_at BIGINT,
    row_count BIGINT,
    sha256 TEXT
);

-- The disclosure ledger: append-only, no contact values, one row per participant released.
-- partner_id is NULL for releases to the operator's own staff (incident notification lists).
CREATE TABLE disclosures (
    id TEXT PRIMARY KEY NOT NULL,
    occurred_at BIGINT NOT NULL,
    event_id TEXT NOT NULL REFERENCES events(id),
    partner_id TEXT REFERENCES partners(id),
    user_id TEXT REFERENCES users(id),
    attendee_id TEXT NOT NULL REFERENCES attendees(id),
    fields TEXT NOT NULL,
    basis TEXT NOT NULL,
    channel TEXT NOT NULL,
    export_id TEXT REFERENCES exports(id)
);
CREATE INDEX disclosures_attendee ON disclosures(event_id, attendee_id);
CREATE INDEX disclosures_partner ON disclosures(partner_id, occurred_at);
CREATE INDEX disclosures_time ON disclosures(occurred_at);

CREATE FUNCTION disclosures_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the disclosure ledger is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER disclosures_no_change BEFORE UPDATE OR DELETE ON disclosures
FOR EACH ROW EXECUTE FUNCTION disclosures_append_only();
