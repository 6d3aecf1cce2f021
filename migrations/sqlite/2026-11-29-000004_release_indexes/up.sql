-- Exports page through an event's participants in id order (keyset pagination).
CREATE INDEX attendees_event_id ON attendees(event_id, id);
