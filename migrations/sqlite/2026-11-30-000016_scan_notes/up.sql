-- Notes, ratings and answers are kept per scan (each scanner's own); the lead's columns
-- become the partner admin's own, set only through PATCH /api/v1/leads/{lead_id}, with
-- who set its note and when.
-- No REFERENCES here: SQLite cannot drop a column that carries one (down.sql).
ALTER TABLE leads ADD COLUMN notes_by TEXT;
ALTER TABLE leads ADD COLUMN notes_at BIGINT;
ALTER TABLE scans ADD COLUMN notes_updated_at BIGINT;

-- Until now each scan's notes, rating and answers were also merged into its lead. Each scan
-- still holds its own, and from now on they are shown beside the lead under their scanner,
-- so the merged copies would show twice: a lead value equal to one of its scans' is a copy
-- and goes. Answers were never set any other way, so they all go. What is left (a note or
-- rating an admin typed) stays as the admin's, author unknown, dated by the lead's last
-- change.
UPDATE leads SET answers = NULL WHERE answers IS NOT NULL;
UPDATE leads SET notes = NULL
WHERE notes IS NOT NULL AND EXISTS (
    SELECT 1 FROM scans
    WHERE scans.partner_id = leads.partner_id AND scans.attendee_id = leads.attendee_id
      AND scans.notes = leads.notes
);
UPDATE leads SET rating = NULL
WHERE rating IS NOT NULL AND EXISTS (
    SELECT 1 FROM scans
    WHERE scans.partner_id = leads.partner_id AND scans.attendee_id = leads.attendee_id
      AND scans.rating = leads.rating
);
UPDATE leads SET notes_at = updated_at WHERE notes IS NOT NULL;
