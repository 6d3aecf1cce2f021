-- Indexed text columns (ids, hashes of tokens and codes, three indexed vocabulary
-- columns, e-mail addresses) and every reference column compared in byte order ("C").
-- With the database's collation (here C.UTF-8, elsewhere often en_US.UTF-8) every
-- B-tree comparison on these columns went through the C library's strcoll, and every
-- insert compares a dozen keys per index: with "C", a 50,000-row import ran 11-18 %
-- faster and a 100,000-row export 15-31 % (the ledger's inserts), in alternating runs
-- on one machine (BENCHMARKS.md, "Session 15"). Equality is byte equality under both
-- (deterministic collations). Order changes only where a query sorts by e-mail address
-- (a partner's users, a deletion notice's recipients): byte order now, as on SQLite;
-- ids and hashes are ASCII of one form and sort alike. Names, companies and other text
-- people read keep the database's collation. A column with the database's default
-- collation still compares with a "C" one (the default yields), so a key column added
-- later works either way; give it COLLATE "C" too.
-- Only the indexes on these columns are rebuilt; the tables are not rewritten.
ALTER TABLE account_links
    ALTER COLUMN token_hash TYPE TEXT COLLATE "C",
    ALTER COLUMN user_id TYPE TEXT COLLATE "C",
    ALTER COLUMN purpose TYPE TEXT COLLATE "C";
ALTER TABLE attendees
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN event_id TYPE TEXT COLLATE "C",
    ALTER COLUMN email TYPE TEXT COLLATE "C",
    ALTER COLUMN privacy_token_hash TYPE TEXT COLLATE "C",
    ALTER COLUMN unsubscribe_token_hash TYPE TEXT COLLATE "C",
    ALTER COLUMN import_run TYPE TEXT COLLATE "C";
ALTER TABLE badges
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN event_id TYPE TEXT COLLATE "C",
    ALTER COLUMN attendee_id TYPE TEXT COLLATE "C",
    ALTER COLUMN code_hash TYPE TEXT COLLATE "C";
ALTER TABLE browser_sessions
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN user_id TYPE TEXT COLLATE "C";
ALTER TABLE consents
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN event_id TYPE TEXT COLLATE "C",
    ALTER COLUMN attendee_id TYPE TEXT COLLATE "C",
    ALTER COLUMN partner_id TYPE TEXT COLLATE "C";
ALTER TABLE deletion_notices
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN event_id TYPE TEXT COLLATE "C",
    ALTER COLUMN partner_id TYPE TEXT COLLATE "C",
    ALTER COLUMN attendee_id TYPE TEXT COLLATE "C",
    ALTER COLUMN lead_id TYPE TEXT COLLATE "C",
    ALTER COLUMN acknowledged_by TYPE TEXT COLLATE "C";
ALTER TABLE device_enrolments
    ALTER COLUMN code_hash TYPE TEXT COLLATE "C",
    ALTER COLUMN user_id TYPE TEXT COLLATE "C",
    ALTER COLUMN partner_id TYPE TEXT COLLATE "C",
    ALTER COLUMN event_id TYPE TEXT COLLATE "C",
    ALTER COLUMN created_by TYPE TEXT COLLATE "C",
    ALTER COLUMN device_id TYPE TEXT COLLATE "C";
ALTER TABLE devices
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN user_id TYPE TEXT COLLATE "C",
    ALTER COLUMN partner_id TYPE TEXT COLLATE "C",
    ALTER COLUMN event_id TYPE TEXT COLLATE "C",
    ALTER COLUMN refresh_hash TYPE TEXT COLLATE "C";
ALTER TABLE disclosure_counts
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN event_id TYPE TEXT COLLATE "C",
    ALTER COLUMN partner_id TYPE TEXT COLLATE "C";
ALTER TABLE disclosures
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN event_id TYPE TEXT COLLATE "C",
    ALTER COLUMN partner_id TYPE TEXT COLLATE "C",
    ALTER COLUMN user_id TYPE TEXT COLLATE "C",
    ALTER COLUMN attendee_id TYPE TEXT COLLATE "C",
    ALTER COLUMN export_id TYPE TEXT COLLATE "C";
ALTER TABLE events
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN slug TYPE TEXT COLLATE "C";
ALTER TABLE exports
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN event_id TYPE TEXT COLLATE "C",
    ALTER COLUMN partner_id TYPE TEXT COLLATE "C",
    ALTER COLUMN user_id TYPE TEXT COLLATE "C";
ALTER TABLE import_runs
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN event_id TYPE TEXT COLLATE "C";
ALTER TABLE incident_updates
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN incident_id TYPE TEXT COLLATE "C",
    ALTER COLUMN created_by TYPE TEXT COLLATE "C";
ALTER TABLE incidents
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN scope_event_id TYPE TEXT COLLATE "C",
    ALTER COLUMN scope_partner_id TYPE TEXT COLLATE "C",
    ALTER COLUMN scope_user_id TYPE TEXT COLLATE "C",
    ALTER COLUMN created_by TYPE TEXT COLLATE "C";
ALTER TABLE leads
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN event_id TYPE TEXT COLLATE "C",
    ALTER COLUMN partner_id TYPE TEXT COLLATE "C",
    ALTER COLUMN attendee_id TYPE TEXT COLLATE "C",
    ALTER COLUMN first_scanned_by TYPE TEXT COLLATE "C",
    ALTER COLUMN notes_by TYPE TEXT COLLATE "C";
ALTER TABLE ledger_retention
    ALTER COLUMN event_id TYPE TEXT COLLATE "C";
ALTER TABLE login_throttle
    ALTER COLUMN key_hash TYPE TEXT COLLATE "C";
ALTER TABLE mail_outbox
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN event_id TYPE TEXT COLLATE "C",
    ALTER COLUMN attendee_id TYPE TEXT COLLATE "C",
    ALTER COLUMN status TYPE TEXT COLLATE "C";
ALTER TABLE opt_in_confirmations
    ALTER COLUMN token_hash TYPE TEXT COLLATE "C",
    ALTER COLUMN attendee_id TYPE TEXT COLLATE "C";
ALTER TABLE partners
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN event_id TYPE TEXT COLLATE "C";
ALTER TABLE qualification_questions
    ALTER COLUMN partner_id TYPE TEXT COLLATE "C",
    ALTER COLUMN updated_by TYPE TEXT COLLATE "C";
ALTER TABLE requests
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN event_id TYPE TEXT COLLATE "C",
    ALTER COLUMN attendee_id TYPE TEXT COLLATE "C",
    ALTER COLUMN status TYPE TEXT COLLATE "C",
    ALTER COLUMN handled_by TYPE TEXT COLLATE "C";
ALTER TABLE scans
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN event_id TYPE TEXT COLLATE "C",
    ALTER COLUMN partner_id TYPE TEXT COLLATE "C",
    ALTER COLUMN user_id TYPE TEXT COLLATE "C",
    ALTER COLUMN client_scan_id TYPE TEXT COLLATE "C",
    ALTER COLUMN badge_id TYPE TEXT COLLATE "C",
    ALTER COLUMN attendee_id TYPE TEXT COLLATE "C";
ALTER TABLE security_actions
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN actor_id TYPE TEXT COLLATE "C";
ALTER TABLE settings
    ALTER COLUMN key TYPE TEXT COLLATE "C";
ALTER TABLE users
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN email TYPE TEXT COLLATE "C",
    ALTER COLUMN password_hash TYPE TEXT COLLATE "C",
    ALTER COLUMN event_id TYPE TEXT COLLATE "C",
    ALTER COLUMN partner_id TYPE TEXT COLLATE "C";
ALTER TABLE withdrawals
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN event_id TYPE TEXT COLLATE "C",
    ALTER COLUMN attendee_id TYPE TEXT COLLATE "C",
    ALTER COLUMN partner_id TYPE TEXT COLLATE "C",
    ALTER COLUMN recorded_by TYPE TEXT COLLATE "C";
