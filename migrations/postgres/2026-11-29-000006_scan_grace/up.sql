-- A scan the server receives later than this after the event's end is no basis for a
-- lead, whatever time the phone put on it (a partner must not collect leads for weeks
-- after the show by replaying badge codes it photographed).
ALTER TABLE events ADD COLUMN scan_grace_hours INTEGER NOT NULL DEFAULT 72;
