-- PostgreSQL only (see migrations/postgres of the same name): SQLite keeps its foreign
-- keys, whose checks are index lookups inside the library and cost little.
SELECT 1;
