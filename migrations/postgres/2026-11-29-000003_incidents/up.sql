-- Server-wide settings; `token_generation` selects the token signing key derived from the
-- token secret, so rotating it ends every token on every instance at once.
CREATE TABLE settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
INSERT INTO settings (key, value) VALUES ('token_generation', '0');

-- Containment actions: who did what, when.
CREATE TABLE security_actions (
    id TEXT PRIMARY KEY NOT NULL,
    occurred_at BIGINT NOT NULL,
    actor_id TEXT NOT NULL REFERENCES users(id),
    action TEXT NOT NULL,
    target TEXT
);
CREATE INDEX security_actions_time ON security_actions(occurred_at);

CREATE TABLE incidents (
    id TEXT PRIMARY KEY NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    discovered_at BIGINT NOT NULL,
    scope_event_id TEXT REFERENCES events(id),
    scope_partner_id TEXT REFERENCES partners(id),
    scope_user_id TEXT REFERENCES users(id),
    window_from BIGINT NOT NULL,
    window_to BIGINT NOT NULL,
    nature TEXT,
    investigation TEXT,
    mitigation TEXT,
    contact TEXT,
    notified_at BIGINT,
    reported_at BIGINT,
    closed_at BIGINT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id)
);

CREATE TABLE incident_updates (
    id TEXT PRIMARY KEY NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id),
    perpetrators TEXT NOT NULL,
    data_abused TEXT NOT NULL,
    further_investigation TEXT NOT NULL,
    further_mitigation TEXT NOT NULL,
    corrective_action TEXT NOT NULL
);
CREATE INDEX incident_updates_incident ON incident_updates(incident_id, created_at);
