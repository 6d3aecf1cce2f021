-- Unsubscribe tokens are derived from a server key; only their hash is stored, for lookup.
ALTER TABLE attendees ADD COLUMN unsubscribe_token_hash TEXT;
CREATE UNIQUE INDEX attendees_unsubscribe ON attendees(unsubscribe_token_hash);

-- Participants' requests (access, correction, erasure, withdrawal), due 30 days after receipt.
CREATE TABLE requests (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL REFERENCES events(id),
    attendee_id TEXT NOT NULL REFERENCES attendees(id),
    kind TEXT NOT NULL,
    channel TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    completed_at BIGINT,
    handled_by TEXT,
    notes TEXT
);
CREATE INDEX requests_due ON requests(status, due_at);
CREATE INDEX requests_attendee ON requests(attendee_id);
