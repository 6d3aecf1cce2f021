-- The per-address limit of reminder mails counts the participant's recent reminders by
-- `attendee_id` (indexed since 000009), not by address. An index on the address put one
-- more randomly placed B-tree page into every queued message's commit; on SQLite a
-- registration's commit with its confirmation wrote that much more to the WAL.
DROP INDEX mail_outbox_recipient;
