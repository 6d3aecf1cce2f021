-- The outbox's event reference was the last per-row foreign key on a table written in
-- bulk: an import queues one confirmation per participant, and each row's check was a
-- query of its own: for 2,500 outbox rows its trigger calls took 13.6-29.2 ms, the check
-- below 4.1-4.8 ms (psql, one machine, BENCHMARKS.md "Session 16"). It is now checked as
-- the other bulk tables' references are (migrations 000018 and 000022): once per insert statement,
-- over the distinct events it wrote. On update it is checked only where a row's event
-- changed, which the service never does: the delivery worker updates rows all the time,
-- and a statement-level check there would run for nothing. A NULL event (mail to a
-- staff or partner user) refers to nothing and passes. Events are never deleted
-- (migration 000018), which the foreign key also guarded.

ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_event_id_fkey;

CREATE FUNCTION mail_outbox_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM (SELECT DISTINCT event_id FROM written) w
                   WHERE w.event_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM events p WHERE p.id = w.event_id)) THEN
        RAISE foreign_key_violation USING MESSAGE = 'mail_outbox: a row refers to a row that does not exist';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER mail_outbox_references_on_insert AFTER INSERT ON mail_outbox
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION mail_outbox_references_exist();

CREATE FUNCTION mail_outbox_event_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.event_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM events p WHERE p.id = NEW.event_id) THEN
        RAISE foreign_key_violation USING MESSAGE = 'mail_outbox: a row refers to a row that does not exist';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER mail_outbox_event_on_update AFTER UPDATE OF event_id ON mail_outbox
    FOR EACH ROW WHEN (NEW.event_id IS DISTINCT FROM OLD.event_id) EXECUTE FUNCTION mail_outbox_event_exists();
