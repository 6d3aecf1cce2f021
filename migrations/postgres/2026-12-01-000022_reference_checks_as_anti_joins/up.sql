-- The reference checks of migration 000018, same rule, cheaper form. Each counted the
-- distinct values of every column twice over the statement's rows (a sort per column)
-- and compared the counts; a page of 1,000 ledger rows spent about a quarter of its
-- insert there (16-17 ms against 12-13 ms a page with this form, in psql on one machine,
-- BENCHMARKS.md "Session 15"). Now: a column with a value per row (the participant, the
-- badge) is checked row by row against its table's primary key (an anti-join: is there a
-- row whose reference is missing?); the columns that hold one or a few values per statement
-- (event, partner, user, export) are checked once per distinct combination. A NULL
-- refers to nothing and passes, as before and as with a foreign key.

CREATE OR REPLACE FUNCTION attendees_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM (SELECT DISTINCT event_id FROM written) w
                   WHERE (w.event_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM events p WHERE p.id = w.event_id))) THEN
        RAISE foreign_key_violation USING MESSAGE = 'attendees: a row refers to a row that does not exist';
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION badges_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM written w WHERE w.attendee_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM attendees p WHERE p.id = w.attendee_id))
        OR EXISTS (SELECT 1 FROM (SELECT DISTINCT event_id FROM written) w
                   WHERE (w.event_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM events p WHERE p.id = w.event_id))) THEN
        RAISE foreign_key_violation USING MESSAGE = 'badges: a row refers to a row that does not exist';
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION consents_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM written w WHERE w.attendee_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM attendees p WHERE p.id = w.attendee_id))
        OR EXISTS (SELECT 1 FROM (SELECT DISTINCT event_id, partner_id FROM written) w
                   WHERE (w.event_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM events p WHERE p.id = w.event_id))
                      OR (w.partner_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM partners p WHERE p.id = w.partner_id))) THEN
        RAISE foreign_key_violation USING MESSAGE = 'consents: a row refers to a row that does not exist';
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION scans_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM written w WHERE w.badge_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM badges p WHERE p.id = w.badge_id))
        OR EXISTS (SELECT 1 FROM written w WHERE w.attendee_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM attendees p WHERE p.id = w.attendee_id))
        OR EXISTS (SELECT 1 FROM (SELECT DISTINCT event_id, partner_id, user_id FROM written) w
                   WHERE (w.event_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM events p WHERE p.id = w.event_id))
                      OR (w.partner_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM partners p WHERE p.id = w.partner_id))
                      OR (w.user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users p WHERE p.id = w.user_id))) THEN
        RAISE foreign_key_violation USING MESSAGE = 'scans: a row refers to a row that does not exist';
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION leads_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM written w WHERE w.attendee_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM attendees p WHERE p.id = w.attendee_id))
        OR EXISTS (SELECT 1 FROM (SELECT DISTINCT event_id, partner_id, first_scanned_by, notes_by FROM written) w
                   WHERE (w.event_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM events p WHERE p.id = w.event_id))
                      OR (w.partner_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM partners p WHERE p.id = w.partner_id))
                      OR (w.first_scanned_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users p WHERE p.id = w.first_scanned_by))
                      OR (w.notes_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users p WHERE p.id = w.notes_by))) THEN
        RAISE foreign_key_violation USING MESSAGE = 'leads: a row refers to a row that does not exist';
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION disclosures_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM written w WHERE w.attendee_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM attendees p WHERE p.id = w.attendee_id))
        OR EXISTS (SELECT 1 FROM (SELECT DISTINCT event_id, partner_id, user_id, export_id FROM written) w
                   WHERE (w.event_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM events p WHERE p.id = w.event_id))
                      OR (w.partner_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM partners p WHERE p.id = w.partner_id))
                      OR (w.user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users p WHERE p.id = w.user_id))
                      OR (w.export_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM exports p WHERE p.id = w.export_id))) THEN
        RAISE foreign_key_violation USING MESSAGE = 'disclosures: a row refers to a row that does not exist';
    END IF;
    RETURN NULL;
END $$;
