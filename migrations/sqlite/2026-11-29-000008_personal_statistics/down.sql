-- PostgreSQL only (no sample values of personal columns in pg_statistic). SQLite's
-- ANALYZE, which the service never runs, keeps index row counts only (no STAT4 here).
SELECT 1;
