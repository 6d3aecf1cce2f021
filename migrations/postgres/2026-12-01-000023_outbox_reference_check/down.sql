DROP TRIGGER mail_outbox_event_on_update ON mail_outbox;
DROP FUNCTION mail_outbox_event_exists();
DROP TRIGGER mail_outbox_references_on_insert ON mail_outbox;
DROP FUNCTION mail_outbox_references_exist();
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_event_id_fkey FOREIGN KEY (event_id) REFERENCES events(id);
