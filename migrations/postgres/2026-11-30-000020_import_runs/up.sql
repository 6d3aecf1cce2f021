-- An import on SQLite is stored in chunks so that scans get the writer lock between them
-- (src/attendees/import.rs). Until its last chunk is in, the import's row here exists and
-- its participants carry its id in `import_run`: every reader that releases or shows
-- participants, and the scan's badge lookup, leaves them out (`crate::attendees::SETTLED`).
-- Deleting the row is the import's commit point; a row left by a crash is undone at start.
-- `import_run` stays on the participants afterwards: it says which import brought them.
CREATE TABLE import_runs (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL REFERENCES events(id),
    created_at BIGINT NOT NULL
);
ALTER TABLE attendees ADD COLUMN import_run TEXT;
-- Only imported participants are in it: a registration adds no index entry.
CREATE INDEX attendees_import_run ON attendees(import_run) WHERE import_run IS NOT NULL;
