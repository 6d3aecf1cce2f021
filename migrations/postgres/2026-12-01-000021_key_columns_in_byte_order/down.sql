ALTER TABLE account_links
    ALTER COLUMN token_hash TYPE TEXT COLLATE "default",
    ALTER COLUMN user_id TYPE TEXT COLLATE "default",
    ALTER COLUMN purpose TYPE TEXT COLLATE "default";
ALTER TABLE attendees
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN event_id TYPE TEXT COLLATE "default",
    ALTER COLUMN email TYPE TEXT COLLATE "default",
    ALTER COLUMN privacy_token_hash TYPE TEXT COLLATE "default",
    ALTER COLUMN unsubscribe_token_hash TYPE TEXT COLLATE "default",
    ALTER COLUMN import_run TYPE TEXT COLLATE "default";
ALTER TABLE badges
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN event_id TYPE TEXT COLLATE "default",
    ALTER COLUMN attendee_id TYPE TEXT COLLATE "default",
    ALTER COLUMN code_hash TYPE TEXT COLLATE "default";
ALTER TABLE browser_sessions
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN user_id TYPE TEXT COLLATE "default";
ALTER TABLE consents
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN event_id TYPE TEXT COLLATE "default",
    ALTER COLUMN attendee_id TYPE TEXT COLLATE "default",
    ALTER COLUMN partner_id TYPE TEXT COLLATE "default";
ALTER TABLE deletion_notices
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN event_id TYPE TEXT COLLATE "default",
    ALTER COLUMN partner_id TYPE TEXT COLLATE "default",
    ALTER COLUMN attendee_id TYPE TEXT COLLATE "default",
    ALTER COLUMN lead_id TYPE TEXT COLLATE "default",
    ALTER COLUMN acknowledged_by TYPE TEXT COLLATE "default";
ALTER TABLE device_enrolments
    ALTER COLUMN code_hash TYPE TEXT COLLATE "default",
    ALTER COLUMN user_id TYPE TEXT COLLATE "default",
    ALTER COLUMN partner_id TYPE TEXT COLLATE "default",
    ALTER COLUMN event_id TYPE TEXT COLLATE "default",
    ALTER COLUMN created_by TYPE TEXT COLLATE "default",
    ALTER COLUMN device_id TYPE TEXT COLLATE "default";
ALTER TABLE devices
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN user_id TYPE TEXT COLLATE "default",
    ALTER COLUMN partner_id TYPE TEXT COLLATE "default",
    ALTER COLUMN event_id TYPE TEXT COLLATE "default",
    ALTER COLUMN refresh_hash TYPE TEXT COLLATE "default";
ALTER TABLE disclosure_counts
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN event_id TYPE TEXT COLLATE "default",
    ALTER COLUMN partner_id TYPE TEXT COLLATE "default";
ALTER TABLE disclosures
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN event_id TYPE TEXT COLLATE "default",
    ALTER COLUMN partner_id TYPE TEXT COLLATE "default",
    ALTER COLUMN user_id TYPE TEXT COLLATE "default",
    ALTER COLUMN attendee_id TYPE TEXT COLLATE "default",
    ALTER COLUMN export_id TYPE TEXT COLLATE "default";
ALTER TABLE events
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN slug TYPE TEXT COLLATE "default";
ALTER TABLE exports
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN event_id TYPE TEXT COLLATE "default",
    ALTER COLUMN partner_id TYPE TEXT COLLATE "default",
    ALTER COLUMN user_id TYPE TEXT COLLATE "default";
ALTER TABLE import_runs
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN event_id TYPE TEXT COLLATE "default";
ALTER TABLE incident_updates
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN incident_id TYPE TEXT COLLATE "default",
    ALTER COLUMN created_by TYPE TEXT COLLATE "default";
ALTER TABLE incidents
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN scope_event_id TYPE TEXT COLLATE "default",
    ALTER COLUMN scope_partner_id TYPE TEXT COLLATE "default",
    ALTER COLUMN scope_user_id TYPE TEXT COLLATE "default",
    ALTER COLUMN created_by TYPE TEXT COLLATE "default";
ALTER TABLE leads
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN event_id TYPE TEXT COLLATE "default",
    ALTER COLUMN partner_id TYPE TEXT COLLATE "default",
    ALTER COLUMN attendee_id TYPE TEXT COLLATE "default",
    ALTER COLUMN first_scanned_by TYPE TEXT COLLATE "default",
    ALTER COLUMN notes_by TYPE TEXT COLLATE "default";
ALTER TABLE ledger_retention
    ALTER COLUMN event_id TYPE TEXT COLLATE "default";
ALTER TABLE login_throttle
    ALTER COLUMN key_hash TYPE TEXT COLLATE "default";
ALTER TABLE mail_outbox
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN event_id TYPE TEXT COLLATE "default",
    ALTER COLUMN attendee_id TYPE TEXT COLLATE "default",
    ALTER COLUMN status TYPE TEXT COLLATE "default";
ALTER TABLE opt_in_confirmations
    ALTER COLUMN token_hash TYPE TEXT COLLATE "default",
    ALTER COLUMN attendee_id TYPE TEXT COLLATE "default";
ALTER TABLE partners
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN event_id TYPE TEXT COLLATE "default";
ALTER TABLE qualification_questions
    ALTER COLUMN partner_id TYPE TEXT COLLATE "default",
    ALTER COLUMN updated_by TYPE TEXT COLLATE "default";
ALTER TABLE requests
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN event_id TYPE TEXT COLLATE "default",
    ALTER COLUMN attendee_id TYPE TEXT COLLATE "default",
    ALTER COLUMN status TYPE TEXT COLLATE "default",
    ALTER COLUMN handled_by TYPE TEXT COLLATE "default";
ALTER TABLE scans
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN event_id TYPE TEXT COLLATE "default",
    ALTER COLUMN partner_id TYPE TEXT COLLATE "default",
    ALTER COLUMN user_id TYPE TEXT COLLATE "default",
    ALTER COLUMN client_scan_id TYPE TEXT COLLATE "default",
    ALTER COLUMN badge_id TYPE TEXT COLLATE "default",
    ALTER COLUMN attendee_id TYPE TEXT COLLATE "default";
ALTER TABLE security_actions
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN actor_id TYPE TEXT COLLATE "default";
ALTER TABLE settings
    ALTER COLUMN key TYPE TEXT COLLATE "default";
ALTER TABLE users
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN email TYPE TEXT COLLATE "default",
    ALTER COLUMN password_hash TYPE TEXT COLLATE "default",
    ALTER COLUMN event_id TYPE TEXT COLLATE "default",
    ALTER COLUMN partner_id TYPE TEXT COLLATE "default";
ALTER TABLE withdrawals
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN event_id TYPE TEXT COLLATE "default",
    ALTER COLUMN attendee_id TYPE TEXT COLLATE "default",
    ALTER COLUMN partner_id TYPE TEXT COLLATE "default",
    ALTER COLUMN recorded_by TYPE TEXT COLLATE "default";
