-- The merged copies removed by up.sql are not restored: each scan still holds its own.
ALTER TABLE scans DROP COLUMN notes_updated_at;
ALTER TABLE leads DROP COLUMN notes_at;
ALTER TABLE leads DROP COLUMN notes_by;
