-- Per-row foreign-key checks made bulk writes slow on PostgreSQL: each is a query of its
-- own (about 9 µs here), and a synced scan made 14 of them (its scan, lead and ledger
-- rows), an exported row 5, an imported participant 5. On the tables written in bulk they
-- are replaced by one check per statement over the distinct values it wrote (a trigger
-- with a transition table). What a foreign key also did -- keep a referenced row from
-- being deleted -- is kept: events, partners, users, exports and participants are never
-- deleted (erasure and retention empty a participant's row, they do not remove it), and
-- the guards below refuse it; a badge is deleted only once no scan refers to it.
-- SQLite keeps its foreign keys: there a check is an index lookup inside the library.

ALTER TABLE attendees DROP CONSTRAINT attendees_event_id_fkey;

CREATE FUNCTION attendees_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(DISTINCT event_id) FROM written) <> (SELECT count(*) FROM events p WHERE p.id IN (SELECT event_id FROM written)) THEN
        RAISE foreign_key_violation USING MESSAGE = 'attendees: a row refers to a row that does not exist';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER attendees_references_on_insert AFTER INSERT ON attendees
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION attendees_references_exist();
CREATE TRIGGER attendees_references_on_update AFTER UPDATE ON attendees
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION attendees_references_exist();

ALTER TABLE badges DROP CONSTRAINT badges_event_id_fkey;
ALTER TABLE badges DROP CONSTRAINT badges_attendee_id_fkey;

CREATE FUNCTION badges_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(DISTINCT event_id) FROM written) <> (SELECT count(*) FROM events p WHERE p.id IN (SELECT event_id FROM written))
        OR (SELECT count(DISTINCT attendee_id) FROM written) <> (SELECT count(*) FROM attendees p WHERE p.id IN (SELECT attendee_id FROM written)) THEN
        RAISE foreign_key_violation USING MESSAGE = 'badges: a row refers to a row that does not exist';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER badges_references_on_insert AFTER INSERT ON badges
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION badges_references_exist();
CREATE TRIGGER badges_references_on_update AFTER UPDATE ON badges
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION badges_references_exist();

ALTER TABLE consents DROP CONSTRAINT consents_event_id_fkey;
ALTER TABLE consents DROP CONSTRAINT consents_attendee_id_fkey;
ALTER TABLE consents DROP CONSTRAINT consents_partner_id_fkey;

CREATE FUNCTION consents_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(DISTINCT event_id) FROM written) <> (SELECT count(*) FROM events p WHERE p.id IN (SELECT event_id FROM written))
        OR (SELECT count(DISTINCT attendee_id) FROM written) <> (SELECT count(*) FROM attendees p WHERE p.id IN (SELECT attendee_id FROM written))
        OR (SELECT count(DISTINCT partner_id) FROM written) <> (SELECT count(*) FROM partners p WHERE p.id IN (SELECT partner_id FROM written)) THEN
        RAISE foreign_key_violation USING MESSAGE = 'consents: a row refers to a row that does not exist';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER consents_references_on_insert AFTER INSERT ON consents
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION consents_references_exist();
CREATE TRIGGER consents_references_on_update AFTER UPDATE ON consents
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION consents_references_exist();

ALTER TABLE scans DROP CONSTRAINT scans_event_id_fkey;
ALTER TABLE scans DROP CONSTRAINT scans_partner_id_fkey;
ALTER TABLE scans DROP CONSTRAINT scans_user_id_fkey;
ALTER TABLE scans DROP CONSTRAINT scans_badge_id_fkey;
ALTER TABLE scans DROP CONSTRAINT scans_attendee_id_fkey;

CREATE FUNCTION scans_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER scans_references_on_insert AFTER INSERT ON scans
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION scans_references_exist();
CREATE TRIGGER scans_references_on_update AFTER UPDATE ON scans
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION scans_references_exist();

ALTER TABLE leads DROP CONSTRAINT leads_event_id_fkey;
ALTER TABLE leads DROP CONSTRAINT leads_partner_id_fkey;
ALTER TABLE leads DROP CONSTRAINT leads_attendee_id_fkey;
ALTER TABLE leads DROP CONSTRAINT leads_first_scanned_by_fkey;
ALTER TABLE leads DROP CONSTRAINT leads_notes_by_fkey;

CREATE FUNCTION leads_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER leads_references_on_insert AFTER INSERT ON leads
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION leads_references_exist();
CREATE TRIGGER leads_references_on_update AFTER UPDATE ON leads
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION leads_references_exist();

ALTER TABLE disclosures DROP CONSTRAINT disclosures_event_id_fkey;
ALTER TABLE disclosures DROP CONSTRAINT disclosures_partner_id_fkey;
ALTER TABLE disclosures DROP CONSTRAINT disclosures_user_id_fkey;
ALTER TABLE disclosures DROP CONSTRAINT disclosures_attendee_id_fkey;
ALTER TABLE disclosures DROP CONSTRAINT disclosures_export_id_fkey;

CREATE FUNCTION disclosures_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER disclosures_references_on_insert AFTER INSERT ON disclosures
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION disclosures_references_exist();
CREATE TRIGGER disclosures_references_on_update AFTER UPDATE ON disclosures
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION disclosures_references_exist();


CREATE FUNCTION refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'rows of % are never deleted: other tables refer to them', TG_TABLE_NAME;
END $$;
CREATE TRIGGER events_never_deleted BEFORE DELETE ON events FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
CREATE TRIGGER partners_never_deleted BEFORE DELETE ON partners FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
CREATE TRIGGER users_never_deleted BEFORE DELETE ON users FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
CREATE TRIGGER exports_never_deleted BEFORE DELETE ON exports FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
CREATE TRIGGER attendees_never_deleted BEFORE DELETE ON attendees FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();

CREATE FUNCTION badges_unreferenced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM scans s WHERE s.badge_id IN (SELECT id FROM gone)) THEN
        RAISE foreign_key_violation USING MESSAGE = 'badges: a deleted badge has scans';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER badges_unreferenced_on_delete AFTER DELETE ON badges
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION badges_unreferenced();

-- The service now analyzes its tables itself when autovacuum lags (`db::analyze`), so
-- every table is sampled into pg_statistic, where no VACUUM reaches. Migration 000008
-- kept the participants' contact fields and notes out; these columns may hold a
-- participant's name or details too (the name a partner received, staff's incident text,
-- which erasure clears) and are kept out as well.
ALTER TABLE deletion_notices ALTER COLUMN released_name SET STATISTICS 0;
ALTER TABLE incidents
    ALTER COLUMN title SET STATISTICS 0,
    ALTER COLUMN description SET STATISTICS 0,
    ALTER COLUMN nature SET STATISTICS 0,
    ALTER COLUMN investigation SET STATISTICS 0,
    ALTER COLUMN mitigation SET STATISTICS 0,
    ALTER COLUMN contact SET STATISTICS 0;
ALTER TABLE incident_updates
    ALTER COLUMN perpetrators SET STATISTICS 0,
    ALTER COLUMN data_abused SET STATISTICS 0,
    ALTER COLUMN further_investigation SET STATISTICS 0,
    ALTER COLUMN further_mitigation SET STATISTICS 0,
    ALTER COLUMN corrective_action SET STATISTICS 0;
