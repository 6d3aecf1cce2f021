DROP TRIGGER scans_scan_guard ON scans;
DROP TRIGGER events_scan_guard ON events;
DROP TRIGGER attendees_scan_guard ON attendees;
DROP TRIGGER badges_scan_guard ON badges;
DROP FUNCTION scan_guard_bump();
DROP TABLE scan_guard;
