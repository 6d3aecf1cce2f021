#!/usr/bin/env python3
"""Where PostgreSQL's time goes: runs one action against a fresh PostgreSQL-backed release
server (scripts/bench.py's set-up) with every statement logged, and sums the logged
durations by statement text.

    scripts/pg_profile.py batch 20000     # 20,000 badges synced in batches of 500, one phone
    scripts/pg_profile.py single 1000     # 100 single scans per 500 badges
    scripts/pg_profile.py wrk 20000       # single scans from 64 connections (wrk) for 5 s
    scripts/pg_profile.py export 100000   # an export of 100,000 opted-in participants
    scripts/pg_profile.py import 50000    # a CSV import of 50,000 rows

It switches `log_min_duration_statement = 0` on for the whole PostgreSQL server (ALTER
SYSTEM, then reload) during the action and resets it after, and reads the server log at
BADGEGATE_PG_LOG (Debian's default below): run it on a machine of your own."""
import sys, os, re, json, time, subprocess, collections, uuid
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench
LOG = os.environ.get("BADGEGATE_PG_LOG", "/var/log/postgresql/postgresql-15-main.log")
ADMIN = bench.PG_ADMIN
what, n = sys.argv[1], int(sys.argv[2])
srv = bench.Server("postgres")
try:
    event, (partner,) = bench.setup_event(srv)
    if what == "export":
        bench.import_rows(srv, event, n, share_all=True)
        tok = bench.partner_token(srv, event, partner, "partner_admin")
    elif what in ("batch", "single", "wrk"):
        bench.import_rows(srv, event, n)
        payloads = bench.fetch_payloads(srv, event)
        tok = bench.partner_token(srv, event, partner, "scanner")
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        batches = [[{"client_scan_id": str(bench.uuid7()), "badge": p, "scanned_at": now} for p in payloads[i:i+500]] for i in range(0, len(payloads), 500)]
    body = bench.csv_rows(n, offset=10**6) if what == "import" else None
    subprocess.run(["psql", "-q", ADMIN, "-c", "ALTER SYSTEM SET log_min_duration_statement=0", "-c", "select pg_reload_conf()"], check=True, capture_output=True)
    time.sleep(0.5)
    start_line = sum(1 for _ in open(LOG))
    t0 = time.perf_counter()
    if what == "export":
        srv.request("GET", "/api/v1/leads/export.csv", tok, raw=True)
    elif what == "import":
        srv.request("POST", f"/api/v1/events/{event}/attendees/import", srv.admin, body, content_type="text/csv")
    elif what == "single":
        for b in batches:
            for item in b[:100]:
                srv.request("POST", "/api/v1/scans", tok, item)
        n = 100 * len(batches)
    elif what == "wrk":
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("\n".join(payloads))
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as g:
            g.write(bench.WRK_LUA)
        env = dict(os.environ, BG_PAYLOADS=f.name, BG_TOKEN=tok, BG_NOW=now, BG_THREADS=str(bench.WRK_THREADS))
        out = subprocess.run(["wrk", f"-t{bench.WRK_THREADS}", "-c64", "-d5s", "-s", g.name, srv.url],
                             env=env, capture_output=True, text=True, check=True).stdout
        n = int(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)) * 5)
    elif what == "batch":
        for b in batches:
            srv.request("POST", "/api/v1/scans/batch", tok, {"scans": b})
    el = time.perf_counter() - t0
    subprocess.run(["psql", "-q", ADMIN, "-c", "ALTER SYSTEM RESET log_min_duration_statement", "-c", "select pg_reload_conf()"], check=True, capture_output=True)
    print(f"{what} {n}: {el:.2f} s = {n/el:,.0f}/s")
    tot = collections.defaultdict(lambda: [0, 0.0])
    phase = collections.defaultdict(float)
    with open(LOG) as f:
        for i, l in enumerate(f):
            if i < start_line or srv.pg_name not in l:
                continue
            m = re.search(r"duration: ([\d.]+) ms  (\w+)(?: [^:]*)?: (.*)", l)
            if not m:
                continue
            phase[m.group(2)] += float(m.group(1))
            if m.group(2) in ("execute", "statement"):
                k = re.sub(r"\$\d+", "$", m.group(3))[:160]
                tot[k][0] += 1; tot[k][1] += float(m.group(1))
    print({k: round(v) for k, v in phase.items()})
    for k, (c, t) in sorted(tot.items(), key=lambda x: -x[1][1])[:40]:
        print(f"{t:9.1f} ms {c:5d}  {k}")
finally:
    srv.stop()
