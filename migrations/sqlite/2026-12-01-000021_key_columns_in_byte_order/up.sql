-- PostgreSQL's migration of this name gives key columns the byte-order collation "C".
-- SQLite's columns already compare in byte order (BINARY): nothing to do.
SELECT 1;
