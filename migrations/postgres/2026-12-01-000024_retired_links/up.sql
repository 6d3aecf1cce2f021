-- A privacy link replaced by a newer one (a reminder from the "lost my badge or link"
-- form or staff, or staff's "new link"): its hash and the event it was for. The link
-- itself says nothing, so without this row its page could only answer "not valid" and
-- send the holder to the organiser; with it, the page names the event and links to its
-- resend form. Listing every event there instead would publish events that are not
-- announced. Only hashes of random tokens; the rows go with the participant's erasure.
-- Key columns compare as bytes, as every other table's (migration 000021).
CREATE TABLE retired_links (
    token_hash TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    attendee_id TEXT COLLATE "C" NOT NULL REFERENCES attendees(id),
    event_id TEXT COLLATE "C" NOT NULL REFERENCES events(id),
    retired_at BIGINT NOT NULL
);
CREATE INDEX retired_links_attendee ON retired_links(attendee_id);
