ALTER TABLE incidents DROP COLUMN participants_notified_at;
DROP INDEX mail_outbox_recipient;
DROP TABLE opt_in_confirmations;
ALTER TABLE consents DROP COLUMN confirmed_at;
