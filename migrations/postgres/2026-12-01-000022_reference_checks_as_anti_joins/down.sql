-- The reference checks as migration 000018 wrote them.

CREATE OR REPLACE FUNCTION attendees_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(DISTINCT event_id) FROM written) <> (SELECT count(*) FROM events p WHERE p.id IN (SELECT event_id FROM written)) THEN
        RAISE foreign_key_violation USING MESSAGE = 'attendees: a row refers to a row that does not exist';
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION badges_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(DISTINCT event_id) FROM written) <> (SELECT count(*) FROM events p WHERE p.id IN (SELECT event_id FROM written))
        OR (SELECT count(DISTINCT attendee_id) FROM written) <> (SELECT count(*) FROM attendees p WHERE p.id IN (SELECT attendee_id FROM written)) THEN
        RAISE foreign_key_violation USING MESSAGE = 'badges: a row refers to a row that does not exist';
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION consents_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(DISTINCT event_id) FROM written) <> (SELECT count(*) FROM events p WHERE p.id IN (SELECT event_id FROM written))
        OR (SELECT count(DISTINCT attendee_id) FROM written) <> (SELECT count(*) FROM attendees p WHERE p.id IN (SELECT attendee_id FROM written))
        OR (SELECT count(DISTINCT partner_id) FROM written) <> (SELECT count(*) FROM partners p WHERE p.id IN (SELECT partner_id FROM written)) THEN
        RAISE foreign_key_violation USING MESSAGE = 'consents: a row refers to a row that does not exist';
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION scans_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(DISTINCT event_id) FROM written) <> (SELECT count(*) FROM events p WHERE p.id IN (SELECT event_id FROM written))
        OR (SELECT count(DISTINCT partner_id) FROM written) <> (SELECT count(*) FROM partners p WHERE p.id IN (SELECT partner_id FROM written))
        OR (SELECT count(DISTINCT user_id) FROM written) <> (SELECT count(*) FROM users p WHERE p.id IN (SELECT user_id FROM written))
        OR (SELECT count(DISTINCT badge_id) FROM written) <> (SELECT count(*) FROM badges p WHERE p.id IN (SELECT badge_id FROM written))
        OR (SELECT count(DISTINCT attendee_id) FROM written) <> (SELECT count(*) FROM attendees p WHERE p.id IN (SELECT attendee_id FROM written)) THEN
        RAISE foreign_key_violation USING MESSAGE = 'scans: a row refers to a row that does not exist';
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION leads_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(DISTINCT event_id) FROM written) <> (SELECT count(*) FROM events p WHERE p.id IN (SELECT event_id FROM written))
        OR (SELECT count(DISTINCT partner_id) FROM written) <> (SELECT count(*) FROM partners p WHERE p.id IN (SELECT partner_id FROM written))
        OR (SELECT count(DISTINCT attendee_id) FROM written) <> (SELECT count(*) FROM attendees p WHERE p.id IN (SELECT attendee_id FROM written))
        OR (SELECT count(DISTINCT first_scanned_by) FROM written) <> (SELECT count(*) FROM users p WHERE p.id IN (SELECT first_scanned_by FROM written))
        OR (SELECT count(DISTINCT notes_by) FROM written) <> (SELECT count(*) FROM users p WHERE p.id IN (SELECT notes_by FROM written)) THEN
        RAISE foreign_key_violation USING MESSAGE = 'leads: a row refers to a row that does not exist';
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION disclosures_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(DISTINCT event_id) FROM written) <> (SELECT count(*) FROM events p WHERE p.id IN (SELECT event_id FROM written))
        OR (SELECT count(DISTINCT partner_id) FROM written) <> (SELECT count(*) FROM partners p WHERE p.id IN (SELECT partner_id FROM written))
        OR (SELECT count(DISTINCT user_id) FROM written) <> (SELECT count(*) FROM users p WHERE p.id IN (SELECT user_id FROM written))
        OR (SELECT count(DISTINCT attendee_id) FROM written) <> (SELECT count(*) FROM attendees p WHERE p.id IN (SELECT attendee_id FROM written))
        OR (SELECT count(DISTINCT export_id) FROM written) <> (SELECT count(*) FROM exports p WHERE p.id IN (SELECT export_id FROM written)) THEN
        RAISE foreign_key_violation USING MESSAGE = 'disclosures: a row refers to a row that does not exist';
    END IF;
    RETURN NULL;
END $$;
