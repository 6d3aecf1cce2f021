CREATE INDEX disclosures_time ON disclosures(occurred_at);
DROP INDEX attendees_event_id;
