DROP TABLE requests;
DROP INDEX attendees_unsubscribe;
ALTER TABLE attendees DROP COLUMN unsubscribe_token_hash;
