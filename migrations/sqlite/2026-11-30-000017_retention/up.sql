-- Retention: `retention_days` after an event's end, `badgegate purge` (and the daily job)
-- removes partners' notes and answers, lead details and the ledger's per-release detail,
-- keeping per-day counts, and compacts erased participants' remaining rows.
ALTER TABLE events ADD COLUMN retention_days INTEGER NOT NULL DEFAULT 180;
ALTER TABLE events ADD COLUMN purged_at BIGINT;

-- What remains of the ledger of a purged event: how many releases per partner, channel,
-- basis and UTC day (`day` counts days since 1970-01-01).
CREATE TABLE disclosure_counts (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL REFERENCES events(id),
    partner_id TEXT REFERENCES partners(id),
    channel TEXT NOT NULL,
    basis TEXT NOT NULL,
    day BIGINT NOT NULL,
    releases BIGINT NOT NULL
);
CREATE INDEX disclosure_counts_event ON disclosure_counts(event_id, day);

-- The ledger stays append-only for everything but the retention purge: the purge
-- transaction inserts its event here, deletes that event's ledger rows, and removes the
-- row again before it commits, so no other transaction ever sees it.
CREATE TABLE ledger_retention (
    event_id TEXT PRIMARY KEY NOT NULL
);
DROP TRIGGER disclosures_no_delete;
CREATE TRIGGER disclosures_no_delete BEFORE DELETE ON disclosures
WHEN NOT EXISTS (SELECT 1 FROM ledger_retention WHERE event_id = OLD.event_id)
BEGIN SELECT RAISE(ABORT, 'the disclosure ledger is append-only'); END;
