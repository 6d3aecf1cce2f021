ALTER TABLE events DROP COLUMN registration_closes_at;
ALTER TABLE events DROP COLUMN organiser_contact;
ALTER TABLE events DROP COLUMN privacy_notice_url;
ALTER TABLE events DROP COLUMN time_zone;
