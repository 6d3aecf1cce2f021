ALTER TABLE events DROP COLUMN scan_grace_hours;
