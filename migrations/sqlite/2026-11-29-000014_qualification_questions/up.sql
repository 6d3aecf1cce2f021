-- The questions a partner's scanner app asks after a scan, as one ordered JSON list per
-- partner (text, kind, options): read and replaced whole, never queried inside.
CREATE TABLE qualification_questions (
    partner_id TEXT PRIMARY KEY NOT NULL REFERENCES partners(id),
    questions TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
