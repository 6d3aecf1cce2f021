#!/usr/bin/env python3
"""The floor under PostgreSQL's import, batch sync and export on this machine: how long
PostgreSQL itself takes to write the rows those actions write, with no client and no
network, in one `INSERT … SELECT` per table.

    python3 scripts/pg_floor.py [--rows 50000] [--repeat 3]

A release server (scripts/bench.py's set-up, BADGEGATE_BENCH_BIN) imports `rows`
participants with their confirmation mail, syncs a scan of each badge in batches of 500
and exports the partner's leads. Then it is stopped, and in `psql`, each in a transaction
that is rolled back, the database copies what each action wrote (new keys, the same
values, the same tables with their indexes and reference checks; vacuumed after each):

- import: the participants, their badges and their queued confirmations, then `ANALYZE`
  as the import does;
- batch sync: the scans, the leads and the ledger rows of the lead cards, for a second
  partner of the event (so that the copies are new leads, not duplicates);
- export: the gate's read of the leads' contact fields, and the ledger rows of the export.

Two more variants of the import say where its time goes: without the reference-check
triggers (`session_replication_role = replica`), and without them and every index but the
primary keys. The service's own import is timed and printed beside them; for the sync and
the export, run `bench.py scans` and `bench.py export` in the same hour.
"""
import argparse, os, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench

IMPORT = """
INSERT INTO attendees (id, event_id, name, email, company, phone, address, marketing_emails, search_text,
  privacy_token_hash, erased_at, created_at, updated_at, unsubscribe_token_hash)
 SELECT 'z' || id, event_id, name, 'z' || email, company, phone, address, marketing_emails, search_text,
  md5(privacy_token_hash) || md5(id), erased_at, created_at, updated_at, md5(unsubscribe_token_hash) || md5(id)
 FROM attendees;
INSERT INTO badges (id, event_id, attendee_id, code_hash, created_at, revoked_at)
 SELECT 'z' || id, event_id, 'z' || attendee_id, md5(code_hash) || md5(id), created_at, revoked_at FROM badges;
INSERT INTO mail_outbox (id, event_id, attendee_id, kind, recipient, subject, body, status, attempts,
  next_attempt_at, created_at)
 SELECT 'z' || id, event_id, 'z' || attendee_id, kind, 'z' || recipient, subject, body, 'queued', 0,
  next_attempt_at, created_at FROM mail_outbox WHERE kind = 'confirmation';
ANALYZE attendees, badges, consents;
"""

NO_TRIGGERS = "SET LOCAL session_replication_role = replica;"

PRIMARY_KEYS_ONLY = NO_TRIGGERS + """
DROP INDEX attendees_event_id, attendees_import_run, attendees_unsubscribe, badges_attendee,
  mail_outbox_attendee, mail_outbox_due, mail_outbox_event;
ALTER TABLE attendees DROP CONSTRAINT attendees_event_id_email_key,
  DROP CONSTRAINT attendees_privacy_token_hash_key;
ALTER TABLE badges DROP CONSTRAINT badges_code_hash_key;
"""

SYNC = """
INSERT INTO scans (id, event_id, partner_id, user_id, client_scan_id, badge_id, attendee_id, scanned_at,
  received_at, notes, rating, answers, notes_updated_at)
 SELECT 'z' || id, event_id, :'other', user_id, client_scan_id, badge_id, attendee_id, scanned_at,
  received_at, notes, rating, answers, notes_updated_at FROM scans;
INSERT INTO leads (id, event_id, partner_id, attendee_id, first_scanned_at, first_scanned_by, last_scanned_at,
  notes, rating, answers, updated_at, notes_by, notes_at)
 SELECT 'z' || id, event_id, :'other', attendee_id, first_scanned_at, first_scanned_by, last_scanned_at,
  notes, rating, answers, updated_at, notes_by, notes_at FROM leads;
INSERT INTO disclosures (id, occurred_at, event_id, partner_id, user_id, attendee_id, fields, basis, channel,
  export_id)
 SELECT 'z' || id, occurred_at, event_id, :'other', user_id, attendee_id, fields, basis, channel, export_id
 FROM disclosures WHERE export_id IS NULL;
"""

EXPORT = """
SELECT count(*), sum(length(a.name) + length(a.email) + coalesce(length(a.company), 0)
  + coalesce(length(a.phone), 0) + coalesce(length(a.address), 0))
 FROM leads l JOIN attendees a ON a.id = l.attendee_id WHERE l.partner_id = :'partner';
INSERT INTO disclosures (id, occurred_at, event_id, partner_id, user_id, attendee_id, fields, basis, channel,
  export_id)
 SELECT 'z' || id, occurred_at, event_id, partner_id, user_id, attendee_id, fields, basis, channel, export_id
 FROM disclosures WHERE export_id IS NOT NULL;
"""


def timed(url, sql, variables):
    """Milliseconds of each statement of `sql`, run in one transaction rolled back."""
    args = ["psql", "-q", "-v", "ON_ERROR_STOP=1", url]
    for k, v in variables.items():
        args += ["-v", f"{k}={v}"]
    script = "\\timing on\nBEGIN;\n" + sql + "\nROLLBACK;\n"
    out = subprocess.run(args, input=script, capture_output=True, text=True, check=True).stdout
    return [float(line.split()[1]) for line in out.splitlines() if line.startswith("Time:")]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=50000)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    n = args.rows
    srv = bench.Server("postgres")
    try:
        event, (partner, other) = bench.setup_event(srv, partners=2)
        # Before the import: its confirmations would queue ahead of the users' invitations.
        tok = bench.partner_token(srv, event, partner, "scanner")
        admin = bench.partner_token(srv, event, partner, "partner_admin")
        t0 = time.perf_counter()
        out = srv.request("POST", f"/api/v1/events/{event}/attendees/import", srv.admin, bench.csv_rows(n),
                          content_type="text/csv")
        service = n / (time.perf_counter() - t0)
        assert out["imported"] == n, out
        payloads = bench.fetch_payloads(srv, event)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        batches = [[{"client_scan_id": str(bench.uuid7()), "badge": b, "scanned_at": now} for b in payloads[i:i + 500]]
                   for i in range(0, len(payloads), 500)]
        # Not timed: the outbox worker is delivering the import's confirmations meanwhile;
        # `bench.py scans` and `bench.py export` measure these actions.
        for b in batches:
            srv.request("POST", "/api/v1/scans/batch", tok, {"scans": b})
        srv.request("GET", "/api/v1/leads/export.csv", admin, raw=True)
        time.sleep(2)  # the outbox worker and the statistics thread settle
        srv.proc.terminate()
        srv.proc.wait(timeout=30)
        url = srv.env["BADGEGATE_DATABASE_URL"]
        cases = [
            ("import", "", IMPORT),
            ("import, no reference checks", NO_TRIGGERS, IMPORT),
            ("import, primary keys only, no reference checks", PRIMARY_KEYS_ONLY, IMPORT),
            ("batch sync", "", SYNC),
            ("export", "", EXPORT),
        ]
        print(f"{n} rows; the service's own import just before: {service:,.0f} rows/s")
        for _ in range(args.repeat):
            for name, before, sql in cases:
                ms = timed(url, before + sql, {"other": other, "partner": partner})
                # The rolled-back rows stay in the tables and their indexes as dead entries
                # until vacuumed; the next case would insert beside them and take longer.
                subprocess.run(["psql", "-q", url, "-c", "VACUUM attendees, badges, mail_outbox, scans, leads, "
                                "disclosures"], check=True, capture_output=True)
                total = sum(ms)
                print(f"floor, {name}: {total / 1000:.2f} s = {n / total * 1000:,.0f} rows/s "
                      f"(statements: {', '.join(f'{m:.0f}' for m in ms if m >= 1)} ms)")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
