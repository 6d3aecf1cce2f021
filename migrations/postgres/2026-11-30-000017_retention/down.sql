CREATE OR REPLACE FUNCTION disclosures_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the disclosure ledger is append-only';
END;
$$ LANGUAGE plpgsql;
DROP TABLE ledger_retention;
DROP TABLE disclosure_counts;
ALTER TABLE events DROP COLUMN purged_at;
ALTER TABLE events DROP COLUMN retention_days;
