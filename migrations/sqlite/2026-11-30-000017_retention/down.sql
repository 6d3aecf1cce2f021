DROP TRIGGER disclosures_no_delete;
CREATE TRIGGER disclosures_no_delete BEFORE DELETE ON disclosures
BEGIN SELECT RAISE(ABORT, 'the disclosure ledger is append-only'); END;
DROP TABLE ledger_retention;
DROP TABLE disclosure_counts;
ALTER TABLE events DROP COLUMN purged_at;
ALTER TABLE events DROP COLUMN retention_days;
