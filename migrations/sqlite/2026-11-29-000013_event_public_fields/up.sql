-- What the public pages need to know about an event: the zone its times are shown in
-- (IANA name), where its privacy notice lives, whom participants can contact, and when
-- the public form stops taking registrations (NULL: at the event's end, following it
-- when the dates move).
ALTER TABLE events ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
ALTER TABLE events ADD COLUMN privacy_notice_url TEXT;
ALTER TABLE events ADD COLUMN organiser_contact TEXT;
ALTER TABLE events ADD COLUMN registration_closes_at BIGINT;
