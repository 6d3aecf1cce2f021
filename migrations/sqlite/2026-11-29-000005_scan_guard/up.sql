-- A batch of scans is decided (known client ids, badges, erased participants, the event's
-- dates) before it takes the write lock, so the next batch's reads overlap the current
-- batch's writes. Every change that could alter such a decision bumps this version
-- in its own transaction; a batch decided under another version is decided again under
-- the lock. Triggers bump it, so no code path can forget to.
CREATE TABLE scan_guard (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO scan_guard (id, version) VALUES (1, 0);

CREATE TRIGGER badges_scan_guard_update AFTER UPDATE ON badges
BEGIN UPDATE scan_guard SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER badges_scan_guard_delete AFTER DELETE ON badges
BEGIN UPDATE scan_guard SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER attendees_scan_guard_update AFTER UPDATE OF erased_at ON attendees
BEGIN UPDATE scan_guard SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER attendees_scan_guard_delete AFTER DELETE ON attendees
BEGIN UPDATE scan_guard SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER events_scan_guard_update AFTER UPDATE ON events
BEGIN UPDATE scan_guard SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER scans_scan_guard_delete AFTER DELETE ON scans
BEGIN UPDATE scan_guard SET version = version + 1 WHERE id = 1; END;
