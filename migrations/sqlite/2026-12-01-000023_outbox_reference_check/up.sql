-- PostgreSQL's migration of this name replaces the outbox's foreign key on its event with
-- a check per statement; SQLite keeps its foreign keys: nothing to do.
SELECT 1;
