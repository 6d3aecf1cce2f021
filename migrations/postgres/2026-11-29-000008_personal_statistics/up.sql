-- ANALYZE copies sample values of each column (histogram bounds, most common values)
-- into pg_statistic, where neither VACUUM nor VACUUM FULL reaches them: an erased name
-- or address would outlive the erasure there. No query plan depends on these columns'
-- value distribution (e-mail lookups use the unique index; searches scan by design).
ALTER TABLE attendees
    ALTER COLUMN name SET STATISTICS 0,
    ALTER COLUMN email SET STATISTICS 0,
    ALTER COLUMN company SET STATISTICS 0,
    ALTER COLUMN phone SET STATISTICS 0,
    ALTER COLUMN address SET STATISTICS 0,
    ALTER COLUMN search_text SET STATISTICS 0;
ALTER TABLE scans ALTER COLUMN notes SET STATISTICS 0, ALTER COLUMN answers SET STATISTICS 0;
ALTER TABLE leads ALTER COLUMN notes SET STATISTICS 0, ALTER COLUMN answers SET STATISTICS 0;
ALTER TABLE requests ALTER COLUMN notes SET STATISTICS 0;
