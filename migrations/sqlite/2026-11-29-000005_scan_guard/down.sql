DROP TRIGGER scans_scan_guard_delete;
DROP TRIGGER events_scan_guard_update;
DROP TRIGGER attendees_scan_guard_delete;
DROP TRIGGER attendees_scan_guard_update;
DROP TRIGGER badges_scan_guard_delete;
DROP TRIGGER badges_scan_guard_update;
DROP TABLE scan_guard;
