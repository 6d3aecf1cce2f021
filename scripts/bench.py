#!/usr/bin/env python3
"""Benchmarks of badgegate over HTTP, against a release build on this machine.

    scripts/bench.py import  [--backend sqlite|postgres] [--rows 50000]
    scripts/bench.py scans   [--backend ...] [--badges 100000] [--duration 20] [--phones 2]
                             [--client-ids v7|v4] [--overlap]
    scripts/bench.py export  [--backend ...] [--leads 100000] [--xlsx]
    scripts/bench.py floor   [--badges 50000] [--duration 20] [--rounds 2]
    scripts/bench.py import-scan [--backend ...] [--badges 50000] [--rows 100000] [--duration 20]
                                 [--no-confirmation]
    scripts/bench.py storm   [--backend ...] [--badges 50000] [--duration 20] [--logins-per-s 100]

`import-scan` runs single scans (wrk, 64 connections) for --duration seconds and, 3 s in,
imports --rows participants in one CSV upload; it prints the scans' latency and the
import's time.

`storm` runs single scans (wrk, 64 connections) alone, then again while a login storm
(--logins-per-s for --duration, half of them with wrong passwords, over 20 accounts) hits
the same server, and prints scan and login latency of both phases. The server runs with
BADGEGATE_LOGIN_LIMIT=0: a storm from one address would otherwise meet the per-IP limit
and cost nothing.

`floor` measures badgegate's single scan (SQLite) beside scripts/floor, a bare actix-web +
diesel server doing one INSERT ... ON CONFLICT DO NOTHING per request, with the same wrk
script and badges, alternating rounds; build it first with
`cargo build --release --manifest-path scripts/floor/Cargo.toml`.

Each run starts its own server (fresh data dir; for PostgreSQL a fresh database that is
dropped afterwards), talks to it on 127.0.0.1 only, prints figures and stops it.
Needs: a release build (`cargo build --release`), wrk (single scans), psql (PostgreSQL).
"""

import argparse
import csv
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# BADGEGATE_BENCH_BIN runs another build (e.g. an older commit's) with the same commands.
BIN = os.environ.get("BADGEGATE_BENCH_BIN") or os.path.join(ROOT, "target", "release", "badgegate")
PG_ADMIN = os.environ.get("BADGEGATE_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
PASSWORD = "benchmark password 123"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class PeakRss:
    """Samples a process's resident memory in the background; `with PeakRss(pid) as m:`."""

    def __init__(self, pid, every=0.01):
        self.pid, self.every = pid, every
        self.idle = self.peak = rss_kib(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class Server:
    def __init__(self, backend, extra_env=None):
        self.dir = tempfile.mkdtemp(prefix="bg-bench-")
        self.backend = backend
        self.pg_name = None
        env = dict(os.environ, **(extra_env or {}))
        env["BADGEGATE_DATA_DIR"] = self.dir
        env["BADGEGATE_LOG"] = os.environ.get("BENCH_LOG", "warn")  # e.g. BENCH_LOG=info with BENCH_SERVER_LOG=1
        if backend == "postgres":
            self.pg_name = "bg_bench_" + uuid.uuid4().hex
            subprocess.run(["psql", PG_ADMIN, "-qc", f'CREATE DATABASE "{self.pg_name}"'], check=True)
            env["BADGEGATE_DATABASE_URL"] = PG_ADMIN.rsplit("/", 1)[0] + "/" + self.pg_name
        else:
            env.pop("BADGEGATE_DATABASE_URL", None)
        self.env = env
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        # BENCH_WRAP, e.g. "perf record -g -o /tmp/perf.data --", runs the server under a profiler.
        wrap = os.environ.get("BENCH_WRAP", "").split()
        self.proc = subprocess.Popen(wrap + [BIN, "serve", "--bind", f"127.0.0.1:{port}"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=None if os.environ.get("BENCH_SERVER_LOG") else subprocess.DEVNULL)
        for _ in range(200):
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=1)
                break
            except Exception:
                time.sleep(0.05)
        subprocess.run([BIN, "admin", "create", "--email", "bench@example.org"], env=env,
                       input=PASSWORD + "\n", text=True, check=True, stdout=subprocess.DEVNULL)
        self.admin = self.login("bench@example.org")

    def count(self, table):
        if self.backend == "postgres":
            out = subprocess.run(["psql", self.env["BADGEGATE_DATABASE_URL"], "-tAc", f"SELECT COUNT(*) FROM {table}"],
                                 check=True, capture_output=True, text=True).stdout
        else:
            out = subprocess.run(["sqlite3", os.path.join(self.dir, "badgegate.db"), f"SELECT COUNT(*) FROM {table}"],
                                 check=True, capture_output=True, text=True).stdout
        return int(out.strip())

    def request(self, method, path, token=None, body=None, content_type="application/json", raw=False):
        data = None
        headers = {}
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["content-type"] = content_type
        if token:
            headers["authorization"] = "Bearer " + token
        req = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        with urllib.request.urlopen(req, timeout=600) as res:
            payload = res.read()
            return payload if raw else json.loads(payload)

    def login(self, email):
        return self.request("POST", "/api/v1/auth/login", body={"email": email, "password": PASSWORD})["access_token"]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        if self.pg_name:
            subprocess.run(["psql", PG_ADMIN, "-qc", f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)'])
        shutil.rmtree(self.dir, ignore_errors=True)


def setup_event(srv, partners=1):
    now = time.time()
    fmt = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
    ev = srv.request("POST", "/api/v1/events", srv.admin,
                     {"name": "Bench", "starts_at": fmt(now - 86400), "ends_at": fmt(now + 86400)})
    pids = [srv.request("POST", f"/api/v1/events/{ev['id']}/partners", srv.admin, {"name": f"P{i}"})["id"]
            for i in range(partners)]
    return ev["id"], pids


def invitation_token(srv, email, timeout=30):
    """The token of the invitation mailed to `email`, read from DATA_DIR/outbox/*.eml
    (the bench server has no SMTP server, so the worker writes each message there)."""
    import glob
    from email import message_from_binary_file, policy as email_policy
    deadline = time.time() + timeout
    while time.time() < deadline:
        for path in glob.glob(os.path.join(srv.dir, "outbox", "*.eml")):
            with open(path, "rb") as f:
                msg = message_from_binary_file(f, policy=email_policy.default)
            if msg["To"] != email:
                continue
            text = msg.get_body(preferencelist=("plain",)).get_content()
            found = re.search(r"/invite/([A-Za-z0-9_-]+)", text)
            if found:
                return found.group(1)
        time.sleep(0.1)
    raise RuntimeError(f"no invitation mailed to {email}")


def partner_login_email(srv, event, partner, role):
    # Partner users choose their own password through the mailed invitation link.
    email = f"{role}-{uuid.uuid4().hex}@partner.example"
    srv.request("POST", f"/api/v1/events/{event}/partners/{partner}/users", srv.admin,
                {"email": email, "role": role})
    srv.request("POST", "/api/v1/auth/invitations/accept",
                body={"token": invitation_token(srv, email), "password": PASSWORD}, raw=True)
    return email


def partner_token(srv, event, partner, role):
    return srv.login(partner_login_email(srv, event, partner, role))


def csv_rows(n, offset=0, share_all=False):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["name", "email", "company", "phone", "address", "is_adult", "share_with_all_partners"])
    for i in range(offset, offset + n):
        w.writerow([f"Participant {i}", f"p{i}@example.org", f"Company {i % 97}", "+49 30 1234567",
                    "1 Main Street\nSpringfield", "true", "true" if share_all else "false"])
    return buf.getvalue().encode()


def import_rows(srv, event, n, share_all=False):
    """Set-up for the other benchmarks: no confirmation mail, so that the outbox does not
    hold back the invitations of the scanner users made afterwards."""
    done = 0
    while done < n:
        chunk = min(50000, n - done)
        srv.request("POST", f"/api/v1/events/{event}/attendees/import?send_confirmation=false", srv.admin,
                    csv_rows(chunk, done, share_all), content_type="text/csv")
        done += chunk


def bench_import(args):
    srv = Server(args.backend)
    try:
        event, _ = setup_event(srv)
        body = csv_rows(args.rows)
        query = "?send_confirmation=false" if args.no_confirmation else ""
        with PeakRss(srv.proc.pid) as mem:
            start = time.perf_counter()
            out = srv.request("POST", f"/api/v1/events/{event}/attendees/import{query}", srv.admin, body,
                              content_type="text/csv")
            elapsed = time.perf_counter() - start
        assert out["imported"] == args.rows, out
        print(f"import [{args.backend}]: {args.rows} rows ({len(body) / 1e6:.1f} MB) in {elapsed:.2f} s = "
              f"{args.rows / elapsed:,.0f} rows/s; server RSS idle {mem.idle / 1024:.0f} MiB, "
              f"peak {mem.peak / 1024:.0f} MiB")
    finally:
        srv.stop()


# wrk's threads; its Lua script steps through the badges by this many (BG_THREADS).
WRK_THREADS = 2

WRK_LUA = r"""
local payloads = {}
for line in io.lines(os.getenv("BG_PAYLOADS")) do payloads[#payloads + 1] = line end
local token = os.getenv("BG_TOKEN")
local now = os.getenv("BG_NOW")
-- setup() runs in wrk's main Lua state, each thread in a state of its own that knows only
-- what setup() passed with thread:set(). (Until session 9 the step was the length of a
-- table filled in the main state, 0 in every thread: each thread scanned one badge over
-- and over.) Thread t of n scans badges t, t + n, t + 2n, ...
local counter = 0
local threads = 0
local step = tonumber(os.getenv("BG_THREADS") or "2")
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  math.randomseed(os.time() + tid * 7919)
  counter = tid
end
local function uuid()
  local t = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"
  return (string.gsub(t, "[xy]", function(c)
    local v = (c == "x") and math.random(0, 15) or math.random(8, 11)
    return string.format("%x", v)
  end))
end
request = function()
  local badge = payloads[(counter % #payloads) + 1]
  counter = counter + step
  local body = '{"client_scan_id":"' .. uuid() .. '","badge":"' .. badge .. '","scanned_at":"' .. now .. '"}'
  return wrk.format("POST", "/api/v1/scans", {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token}, body)
end
"""


def uuid7():
    """A UUIDv7 (RFC 9562) as the phone app makes client_scan_id: 48-bit Unix milliseconds,
    then random bits. Python 3.11 has no uuid.uuid7."""
    b = bytearray((time.time_ns() // 1_000_000).to_bytes(6, "big") + os.urandom(10))
    b[6] = (b[6] & 0x0F) | 0x70
    b[8] = (b[8] & 0x3F) | 0x80
    return uuid.UUID(bytes=bytes(b))


def fetch_payloads(srv, event):
    raw = srv.request("GET", f"/api/v1/events/{event}/badges.csv", srv.admin, raw=True)
    rows = list(csv.reader(io.StringIO(raw.decode())))
    return [r[3] for r in rows[1:]]


def bench_scans(args):
    srv = Server(args.backend)
    try:
        event, (partner,) = setup_event(srv)
        # Single scans and the batch sync use separate badges, so the sync meets no lead
        # made by the single-scan phase (--overlap makes them share badges instead).
        single_count = 0 if args.overlap else 50000
        import_rows(srv, event, args.badges + single_count)
        everything = fetch_payloads(srv, event)
        assert len(everything) == args.badges + single_count
        payloads = everything[:args.badges]
        single = everything[args.badges:] if single_count else payloads[: args.badges // 2]
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

        # Single scans: 64 connections over distinct badges (--duration 0 skips them).
        token = partner_token(srv, event, partner, "scanner")
        payloads_single = single if args.duration > 0 else []
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("\n".join(payloads_single))
            payload_file = f.name
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write(WRK_LUA)
            lua = f.name
        env = dict(os.environ, BG_PAYLOADS=payload_file, BG_TOKEN=token, BG_NOW=now, BG_THREADS=str(WRK_THREADS))
        if payloads_single:
            out = subprocess.run(["wrk", f"-t{WRK_THREADS}", "-c64", f"-d{args.duration}s", "--latency", "-s", lua, srv.url],
                                 env=env, capture_output=True, text=True, check=True).stdout
            rps = re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)
            lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
            errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
            print(f"single scans [{args.backend}]: 64 connections, {args.duration} s: {float(rps):,.0f} scans/s, "
                  f"p50 {lat.get('50')}, p99 {lat.get('99')}, non-2xx {errors.group(1) if errors else 0}")

        # Batch sync: every badge once, in batches of 500, from --phones phones at once
        # (each phone its own scanner user, as at a real booth).
        tokens = [partner_token(srv, event, partner, "scanner") for _ in range(args.phones)]
        # client_scan_id as the phone app makes it (UUIDv7), or random (--client-ids v4).
        make_id = uuid7 if args.client_ids == "v7" else uuid.uuid4
        batches = []
        for i in range(0, len(payloads), 500):
            batches.append([{"client_scan_id": str(make_id()), "badge": p, "scanned_at": now}
                            for p in payloads[i:i + 500]])
        before = srv.count("scans")
        for label in ("sync", "replay"):
            statuses = {}
            lock = threading.Lock()

            def phone(k):
                for b in batches[k::args.phones]:
                    res = srv.request("POST", "/api/v1/scans/batch", tokens[k], {"scans": b})
                    with lock:
                        for r in res["results"]:
                            statuses[r["status"]] = statuses.get(r["status"], 0) + 1

            start = time.perf_counter()
            threads = [threading.Thread(target=phone, args=(k,)) for k in range(args.phones)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - start
            after = srv.count("scans")
            print(f"batch {label} [{args.backend}]: {len(payloads)} scans in batches of 500 from {args.phones} phones, "
                  f"{args.client_ids} ids "
                  f"in {elapsed:.2f} s = {len(payloads) / elapsed:,.0f} scans/s; rows created {after - before}; "
                  f"statuses {statuses}")
            before = after
    finally:
        srv.stop()


FLOOR_BIN = os.path.join(ROOT, "scripts", "floor", "target", "release", "scan-floor")


def wrk_setup(payloads, token):
    """The environment and Lua script with which wrk scans `payloads` as `token`."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(payloads))
        payload_file = f.name
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_LUA)
        lua = f.name
    return dict(os.environ, BG_PAYLOADS=payload_file, BG_TOKEN=token, BG_NOW=now, BG_THREADS=str(WRK_THREADS)), lua


def run_wrk(url, env, duration, lua):
    """Single scans, 64 connections: (scans/s, p50, p99, max, non-2xx)."""
    out = subprocess.run(["wrk", f"-t{WRK_THREADS}", "-c64", f"-d{duration}s", "--latency", "-s", lua, url],
                         env=env, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    worst = re.search(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)", out, re.M).group(1)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, lat.get("50"), lat.get("99"), worst, int(errors.group(1)) if errors else 0


def bench_floor(args):
    if not os.path.exists(FLOOR_BIN):
        sys.exit("build the floor server first: cargo build --release --manifest-path scripts/floor/Cargo.toml")
    srv = Server("sqlite")
    floor_dir = tempfile.mkdtemp(prefix="bg-floor-")
    floors = []
    try:
        event, (partner,) = setup_event(srv)
        import_rows(srv, event, args.badges)
        payloads = fetch_payloads(srv, event)
        token = partner_token(srv, event, partner, "scanner")
        env, lua = wrk_setup(payloads, token)
        # Two floors: eight pooled connections meeting in SQLite's busy handler, and one
        # connection behind a mutex (writers queue in the process, as in badgegate).
        for mode in ("pool", "mutex"):
            port = free_port()
            proc = subprocess.Popen([FLOOR_BIN, os.path.join(floor_dir, f"floor-{mode}.db"), f"127.0.0.1:{port}", mode],
                                    stdout=subprocess.DEVNULL)
            floors.append((f"floor-{mode}", f"http://127.0.0.1:{port}", proc))
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
        servers = [("badgegate", srv.url)] + [(name, url) for name, url, _ in floors]
        results = {name: [] for name, _ in servers}
        for r in range(args.rounds):
            for name, url in servers:
                rps, p50, p99, _, non2xx = run_wrk(url, env, args.duration, lua)
                results[name].append(rps)
                print(f"round {r + 1} {name:11}: 64 connections, {args.duration} s: {rps:,.0f} scans/s, "
                      f"p50 {p50}, p99 {p99}, non-2xx {non2xx}")
        bg = max(results["badgegate"])
        for name, _, _ in floors:
            fl = max(results[name])
            print(f"best of {args.rounds}: badgegate {bg:,.0f} scans/s, {name} {fl:,.0f} scans/s, ratio {bg / fl:.2f}")
    finally:
        for _, _, proc in floors:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(floor_dir, ignore_errors=True)
        srv.stop()


def login_storm(url, emails, per_second, duration, out):
    """`per_second` logins for `duration` seconds, started on a fixed schedule (an open
    loop: a slow server does not slow the storm down); every other one a wrong password."""
    from concurrent.futures import ThreadPoolExecutor

    def one(i):
        body = json.dumps({"email": emails[i % len(emails)],
                           "password": PASSWORD if i % 2 == 0 else "wrong password 123"}).encode()
        req = urllib.request.Request(url + "/api/v1/auth/login", data=body,
                                     headers={"content-type": "application/json"}, method="POST")
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=60) as res:
                status = res.status
        except urllib.error.HTTPError as e:
            status = e.code
        out.append((status, time.perf_counter() - start))

    total = per_second * duration
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=256) as pool:
        for i in range(total):
            delay = start + i / per_second - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, i)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))] if values else float("nan")


def bench_import_scan(args):
    srv = Server(args.backend)
    try:
        event, (partner,) = setup_event(srv)
        import_rows(srv, event, args.badges)
        payloads = fetch_payloads(srv, event)
        token = partner_token(srv, event, partner, "scanner")
        env, lua = wrk_setup(payloads, token)
        body = csv_rows(args.rows, offset=args.badges)
        took = []

        def upload():
            time.sleep(3)
            start = time.perf_counter()
            query = "?send_confirmation=false" if args.no_confirmation else ""
            out = srv.request("POST", f"/api/v1/events/{event}/attendees/import{query}", srv.admin, body,
                              content_type="text/csv")
            took.append(time.perf_counter() - start)
            assert out["imported"] == args.rows, out

        uploader = threading.Thread(target=upload)
        uploader.start()
        rps, p50, p99, worst, _ = run_wrk(srv.url, env, args.duration, lua)
        uploader.join()
        print(f"scans during a {args.rows}-row import [{args.backend}]: {rps:,.0f} scans/s, p50 {p50}, "
              f"p99 {p99}, max {worst}; the import took {took[0]:.2f} s" if took else "the import failed")
    finally:
        srv.stop()


def bench_storm(args):
    srv = Server(args.backend, {"BADGEGATE_LOGIN_LIMIT": "0"})
    try:
        event, (partner,) = setup_event(srv)
        import_rows(srv, event, args.badges)
        payloads = fetch_payloads(srv, event)
        token = partner_token(srv, event, partner, "scanner")
        emails = [partner_login_email(srv, event, partner, "scanner") for _ in range(20)]
        env, lua = wrk_setup(payloads, token)
        rps, p50, p99, _, non2xx = run_wrk(srv.url, env, args.duration, lua)
        print(f"scans alone [{args.backend}]: {rps:,.0f} scans/s, p50 {p50}, p99 {p99}, non-2xx {non2xx}")
        logins = []
        storm = threading.Thread(target=login_storm,
                                 args=(srv.url, emails, args.logins_per_s, args.duration, logins))
        storm.start()
        rps, p50, p99, _, non2xx = run_wrk(srv.url, env, args.duration, lua)
        storm.join()
        statuses = {}
        for status, _ in logins:
            statuses[status] = statuses.get(status, 0) + 1
        times = [t for _, t in logins]
        print(f"scans during a storm of {args.logins_per_s} logins/s [{args.backend}]: {rps:,.0f} scans/s, "
              f"p50 {p50}, p99 {p99}, non-2xx {non2xx}")
        print(f"logins: {len(logins)} answered, statuses {statuses}, p50 {percentile(times, 50) * 1000:.0f} ms, "
              f"p99 {percentile(times, 99) * 1000:.0f} ms")
    finally:
        srv.stop()


def bench_export(args):
    srv = Server(args.backend)
    try:
        event, (partner,) = setup_event(srv)
        import_rows(srv, event, args.leads, share_all=True)
        token = partner_token(srv, event, partner, "partner_admin")
        time.sleep(1)
        path = "/api/v1/leads/export." + ("xlsx" if args.xlsx else "csv")
        req = urllib.request.Request(srv.url + path,
                                     headers={"authorization": "Bearer " + token})
        with PeakRss(srv.proc.pid) as mem:
            start = time.perf_counter()
            with urllib.request.urlopen(req, timeout=600) as res:
                chunks = [res.read(1)]
                ttfb = time.perf_counter() - start
                while True:
                    chunk = res.read(1 << 16)
                    if not chunk:
                        break
                    chunks.append(chunk)
            elapsed = time.perf_counter() - start
        idle, peak = mem.idle, mem.peak
        body = b"".join(chunks)
        size = len(body)
        if args.xlsx:
            with zipfile.ZipFile(io.BytesIO(body)) as z:
                rows = z.read("xl/worksheets/sheet1.xml").count(b"<row ") - 1
        else:
            rows = sum(1 for _ in csv.reader(io.StringIO(body.decode()))) - 1
        ledger = srv.count("disclosures")
        assert rows == ledger, (rows, ledger)
        kind = "xlsx" if args.xlsx else "export"
        print(f"{kind} [{args.backend}]: {rows} rows ({size / 1e6:.1f} MB) in {elapsed:.2f} s = "
              f"{rows / elapsed:,.0f} rows/s; time to first byte {ttfb * 1000:.0f} ms; server RSS idle "
              f"{idle / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB (+{(peak - idle) / 1024:.1f} MiB); "
              f"ledger rows {ledger}")
    finally:
        srv.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["import", "scans", "export", "floor", "storm", "import-scan"])
    p.add_argument("--logins-per-s", type=int, default=100, help="storm: logins started per second")
    p.add_argument("--rounds", type=int, default=2, help="floor: alternating rounds of each server")
    p.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--rows", type=int, default=50000)
    p.add_argument("--badges", type=int, default=100000)
    p.add_argument("--leads", type=int, default=100000)
    p.add_argument("--xlsx", action="store_true", help="export: download the XLSX workbook instead of the CSV")
    p.add_argument("--duration", type=int, default=20)
    p.add_argument("--no-confirmation", action="store_true",
                   help="import, import-scan: the import queues no confirmation mail (the worker stays idle)")
    p.add_argument("--phones", type=int, default=2)
    p.add_argument("--overlap", action="store_true", help="sync the badges the single scans used")
    p.add_argument("--client-ids", choices=["v7", "v4"], default="v7",
                   help="client_scan_id kind for the sync: time-ordered as the phone app makes them, or random")
    args = p.parse_args()
    if not os.path.exists(BIN):
        sys.exit("build first: cargo build --release")
    {"import": bench_import, "scans": bench_scans, "export": bench_export, "floor": bench_floor,
     "storm": bench_storm, "import-scan": bench_import_scan}[args.what](args)


if __name__ == "__main__":
    main()
