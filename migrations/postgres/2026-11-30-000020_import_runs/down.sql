DROP INDEX attendees_import_run;
ALTER TABLE attendees DROP COLUMN import_run;
DROP TABLE import_runs;
