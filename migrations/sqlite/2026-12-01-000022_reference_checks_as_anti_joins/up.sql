-- PostgreSQL's migration of this name rewrites its reference-check triggers; SQLite keeps
-- its foreign keys: nothing to do.
SELECT 1;
