-- Exports page through an event's participants in id order (keyset pagination).
CREATE INDEX attendees_event_id ON attendees(event_id, id);
-- Every release writes a ledger row, so each ledger index costs on every release. Queries
-- by partner and window use disclosures_partner, by participant disclosures_attendee;
-- incident scopes by event or user are rare and may scan.
DROP INDEX disclosures_time;
