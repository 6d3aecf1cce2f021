#!/usr/bin/env python3
"""Durability under kill -9: phones sync scan batches while the server is killed with
SIGKILL at random moments and restarted; afterwards no acknowledged scan is missing and
no scan is stored twice.

    scripts/crash.py [--backend sqlite|postgres] [--cycles 100] [--phones 4] [--batch 100]
                     [--seed N] [--bin target/release/badgegate]

What it does:
- starts the server (fresh data dir; for PostgreSQL a fresh database, dropped at the end),
  creates an admin, an event, one partner, --badges participants (CSV import) and one
  scanner user per phone;
- each phone keeps a queue of scans it made itself (UUIDv7 `client_scan_id`, as the app
  makes them), adds new ones as it goes, and sends the oldest unacknowledged ones in one
  `POST /api/v1/scans/batch`. Only a `200` acknowledges the scans it carries (and each must
  come back `created` or `duplicate`); on anything else (connection refused or reset,
  timeout, 5xx) the phone keeps them and sends them again, with the same ids;
- --cycles times: after a random while (--min-up .. --max-up seconds) the server gets
  SIGKILL, wherever it is, and is started again on the same data;
- then the phones send what is left, and the checks run:
  * through the API: every acknowledged scan sent once more must answer `duplicate` with
    the scan id of its first answer (a `created` would be a lost scan);
  * in the database (sqlite3 module / psql): no `client_scan_id` has two rows, every
    acknowledged id has its row, and rows = distinct ids sent; SQLite's integrity check.
Prints one line of figures; exits 1 when a check fails.
Needs: a build (`cargo build --release`; `--bin` takes another, e.g. the debug binary in
CI), psql for PostgreSQL.
"""

import argparse
import csv
import glob
import http.client
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
PG_ADMIN = os.environ.get("BADGEGATE_TEST_POSTGRES_URL") or "postgres://postgres@127.0.0.1:5432/test"
PASSWORD = "crash test password 123"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def uuid7():
    """A UUIDv7 (RFC 9562), as the phone app makes client_scan_id."""
    b = bytearray((time.time_ns() // 1_000_000).to_bytes(6, "big") + os.urandom(10))
    b[6] = (b[6] & 0x0F) | 0x70
    b[8] = (b[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(b)))


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class HttpError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body[:200]!r}")
        self.status = status


class Server:
    """The service as an operator runs it: one data dir, restarted on the same port."""

    def __init__(self, binary, backend):
        self.bin = binary
        self.backend = backend
        self.dir = tempfile.mkdtemp(prefix="bg-crash-")
        self.pg_name = None
        env = dict(os.environ)
        env["BADGEGATE_DATA_DIR"] = self.dir
        env["BADGEGATE_LOG"] = "error"
        # Every phone logs in from 127.0.0.1, again after each token expiry.
        env["BADGEGATE_LOGIN_LIMIT"] = "0"
        env.pop("BADGEGATE_SMTP_URL", None)
        if backend == "postgres":
            self.pg_name = "bg_crash_" + uuid.uuid4().hex
            subprocess.run(["psql", PG_ADMIN, "-qc", f'CREATE DATABASE "{self.pg_name}"'], check=True)
            base, _, query = PG_ADMIN.partition("?")
            self.db_url = base.rsplit("/", 1)[0] + "/" + self.pg_name + ("?" + query if query else "")
            env["BADGEGATE_DATABASE_URL"] = self.db_url
        else:
            env.pop("BADGEGATE_DATABASE_URL", None)
            self.db_url = None
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.log = open(os.path.join(self.dir, "server.log"), "ab")

    def start(self):
        self.proc = subprocess.Popen([self.bin, "serve", "--bind", f"127.0.0.1:{self.port}"], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited at start with {self.proc.returncode}; see {self.dir}/server.log")
            try:
                urllib.request.urlopen(self.url + "/readyz", timeout=1).read()
                return
            except Exception:
                time.sleep(0.02)
        raise RuntimeError("the server did not become ready within 60 s")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def cleanup(self, keep):
        if self.pg_name:
            subprocess.run(["psql", PG_ADMIN, "-qc", f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)'],
                           stdout=subprocess.DEVNULL)
        if keep:
            print(f"data kept in {self.dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def request(self, method, path, token=None, body=None, content_type="application/json", raw=False, timeout=60):
        data = None
        headers = {}
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["content-type"] = content_type
        if token:
            headers["authorization"] = "Bearer " + token
        req = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as res:
                payload = res.read()
        except urllib.error.HTTPError as e:
            raise HttpError(e.code, e.read()) from None
        return payload if raw else (json.loads(payload) if payload else None)

    def login(self, email):
        return self.request("POST", "/api/v1/auth/login", body={"email": email, "password": PASSWORD})["access_token"]

    def sql(self, query):
        """Rows of a query, straight from the database (not through the service)."""
        if self.backend == "postgres":
            out = subprocess.run(["psql", self.db_url, "-tAF", "\t", "-c", query], check=True, capture_output=True,
                                 text=True).stdout
            return [tuple(line.split("\t")) for line in out.splitlines() if line]
        con = sqlite3.connect(os.path.join(self.dir, "badgegate.db"))
        try:
            return [tuple(str(v) for v in row) for row in con.execute(query).fetchall()]
        finally:
            con.close()


def invitation_token(srv, email, timeout=30):
    """The invitation link's token, from the `.eml` file the worker wrote (no SMTP here)."""
    from email import message_from_binary_file, policy
    deadline = time.time() + timeout
    while time.time() < deadline:
        for path in glob.glob(os.path.join(srv.dir, "outbox", "*.eml")):
            with open(path, "rb") as f:
                msg = message_from_binary_file(f, policy=policy.default)
            if msg["To"] != email:
                continue
            found = re.search(r"/invite/([A-Za-z0-9_-]+)", msg.get_body(preferencelist=("plain",)).get_content())
            if found:
                return found.group(1)
        time.sleep(0.05)
    raise RuntimeError(f"no invitation mailed to {email}")


def set_up(srv, badges, phones):
    subprocess.run([srv.bin, "admin", "create", "--email", "crash@example.org"], env=srv.env, input=PASSWORD + "\n",
                   text=True, check=True, stdout=subprocess.DEVNULL)
    admin = srv.login("crash@example.org")
    now = time.time()
    event = srv.request("POST", "/api/v1/events", admin,
                        {"name": "Crash", "starts_at": rfc3339(now - 86400), "ends_at": rfc3339(now + 86400)})["id"]
    partner = srv.request("POST", f"/api/v1/events/{event}/partners", admin, {"name": "Booth"})["id"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["name", "email", "is_adult"])
    for i in range(badges):
        w.writerow([f"Visitor {i}", f"v{i}@example.org", "true"])
    srv.request("POST", f"/api/v1/events/{event}/attendees/import?send_confirmation=false", admin,
                buf.getvalue().encode(), content_type="text/csv")
    rows = list(csv.reader(io.StringIO(srv.request("GET", f"/api/v1/events/{event}/badges.csv", admin,
                                                    raw=True).decode())))
    payloads = [r[3] for r in rows[1:]]
    assert len(payloads) == badges, len(payloads)
    emails = []
    for k in range(phones):
        email = f"phone{k}-{uuid.uuid4().hex[:8]}@partner.example"
        srv.request("POST", f"/api/v1/events/{event}/partners/{partner}/users", admin,
                    {"email": email, "role": "scanner"})
        srv.request("POST", "/api/v1/auth/invitations/accept",
                    body={"token": invitation_token(srv, email), "password": PASSWORD}, raw=True)
        emails.append(email)
    return admin, payloads, emails


class Phone(threading.Thread):
    """One scanner phone: makes scans, queues them, syncs the oldest unacknowledged ones."""

    def __init__(self, srv, email, payloads, batch, seed, stop):
        super().__init__(daemon=True)
        self.srv, self.email, self.payloads, self.batch = srv, email, payloads, batch
        self.rng = random.Random(seed)
        self.stop_making = threading.Event()
        self.stop = stop
        self.token = None
        self.queue = []          # scans not acknowledged yet, oldest first
        self.acked = {}          # client_scan_id -> scan_id of the first 200 answer that carried it
        self.sent_ids = set()    # every client_scan_id ever sent
        self.batches_ok = 0
        self.failures = 0        # batches without an answer (killed server, reset, timeout, 5xx)
        self.unexpected = []     # answers that break the contract
        self.answer_lost = 0     # scans stored, then first acknowledged as `duplicate`
        self.throttled = 0       # 429 answers (login throttle), waited out

    def make(self, n):
        now = rfc3339(time.time())
        for _ in range(n):
            self.queue.append({"client_scan_id": uuid7(), "badge": self.rng.choice(self.payloads), "scanned_at": now})

    def run(self):
        while not self.stop.is_set():
            # A phone scans whether or not the server answers; the queue is capped so
            # that a long outage does not make one batch hold more than the API takes.
            if not self.stop_making.is_set() and len(self.queue) < 500 - self.batch:
                self.make(self.rng.randint(1, self.batch))
            elif not self.queue:
                return
            scans = self.queue[:500]
            try:
                if self.token is None:
                    self.token = self.srv.login(self.email)
                for s in scans:
                    self.sent_ids.add(s["client_scan_id"])
                res = self.srv.request("POST", "/api/v1/scans/batch", self.token, {"scans": scans}, timeout=30)
            except HttpError as e:
                if e.status == 401:
                    self.token = None
                elif e.status == 429:
                    # The login throttle: a login cut off by a kill stays counted as an
                    # attempt, and a phone that lost its token several times meets the
                    # lock. The app waits and tries again, as here.
                    self.throttled += 1
                    time.sleep(1)
                    continue
                elif e.status < 500:
                    self.unexpected.append(f"HTTP {e.status} for a batch")
                self.failures += 1
                time.sleep(0.02)
                continue
            except (OSError, urllib.error.URLError, http.client.HTTPException, json.JSONDecodeError):
                # Killed mid-request, refused while down, or a cut answer: send it all again.
                self.failures += 1
                time.sleep(0.02)
                continue
            by_id = {r.get("client_scan_id"): r for r in res["results"]}
            for s in scans:
                r = by_id.get(s["client_scan_id"])
                if r is None or r["status"] not in ("created", "duplicate"):
                    self.unexpected.append(f"{s['client_scan_id']}: {r}")
                    continue
                if s["client_scan_id"] not in self.acked and r["status"] == "duplicate":
                    # Stored by an earlier send whose answer the kill cut off.
                    self.answer_lost += 1
                self.acked.setdefault(s["client_scan_id"], r["scan_id"])
            done = set(s["client_scan_id"] for s in scans)
            self.queue = [s for s in self.queue if s["client_scan_id"] not in done]
            self.batches_ok += 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--cycles", type=int, default=100)
    p.add_argument("--phones", type=int, default=4)
    p.add_argument("--batch", type=int, default=100, help="at most this many new scans per phone per round")
    p.add_argument("--badges", type=int, default=2000)
    p.add_argument("--min-up", type=float, default=0.1, help="shortest time the server runs before a kill (s)")
    p.add_argument("--max-up", type=float, default=1.5, help="longest time the server runs before a kill (s)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--bin", default=os.path.join(TARGET, "release", "badgegate"))
    p.add_argument("--keep", action="store_true", help="keep the data dir (and its server.log)")
    args = p.parse_args()
    if not os.path.exists(args.bin):
        sys.exit(f"no binary at {args.bin}: cargo build --release (or give --bin)")
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    rng = random.Random(seed)

    srv = Server(args.bin, args.backend)
    failed = True
    try:
        srv.start()
        admin, payloads, emails = set_up(srv, args.badges, args.phones)
        stop = threading.Event()
        phones = [Phone(srv, e, payloads, args.batch, rng.randrange(1 << 32), stop) for e in emails]
        started = time.perf_counter()
        for ph in phones:
            ph.start()
        downtime = 0.0
        for _ in range(args.cycles):
            time.sleep(rng.uniform(args.min_up, args.max_up))
            srv.kill()
            down = time.perf_counter()
            srv.start()
            downtime += time.perf_counter() - down
        # No more kills: the phones stop making scans and send what they still hold.
        for ph in phones:
            ph.stop_making.set()
        for ph in phones:
            ph.join(timeout=300)
        stop.set()
        elapsed = time.perf_counter() - started
        stuck = sum(len(ph.queue) for ph in phones)

        acked = {}
        for ph in phones:
            acked.update(ph.acked)
        sent = set().union(*(ph.sent_ids for ph in phones))

        # In the database, first: the replay below would store a lost scan again.
        rows = {c: int(n) for c, n in srv.sql("SELECT client_scan_id, COUNT(*) FROM scans GROUP BY client_scan_id")}
        twice = sum(1 for n in rows.values() if n > 1)
        lost_db = sum(1 for c in acked if c not in rows)
        total_rows = sum(rows.values())
        stray = sum(1 for c in rows if c not in sent)
        integrity = "ok"
        if args.backend == "sqlite":
            integrity = srv.sql("PRAGMA integrity_check")[0][0]
        # Through the API: each acknowledged scan again, in its phone's batches: `duplicate`
        # with the first answer's scan id, or it was lost.
        lost_api, changed_id = 0, 0
        for ph in phones:
            token = srv.login(ph.email)
            ids = list(ph.acked)
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                scans = [{"client_scan_id": c, "badge": payloads[0], "scanned_at": rfc3339(time.time())}
                         for c in chunk]
                res = srv.request("POST", "/api/v1/scans/batch", token, {"scans": scans}, timeout=120)
                for r in res["results"]:
                    if r["status"] != "duplicate":
                        lost_api += 1
                    elif r["scan_id"] != ph.acked[r["client_scan_id"]]:
                        changed_id += 1

        unexpected = [u for ph in phones for u in ph.unexpected]
        failures = sum(ph.failures for ph in phones)
        batches = sum(ph.batches_ok for ph in phones)
        answer_lost = sum(ph.answer_lost for ph in phones)
        throttled = sum(ph.throttled for ph in phones)

        print(f"crash [{args.backend}]: {args.cycles} kill -9 cycles in {elapsed:.0f} s (seed {seed}, "
              f"{args.phones} phones, {downtime / max(args.cycles, 1) * 1000:.0f} ms to restart on average); "
              f"scans sent {len(sent)}, acknowledged {len(acked)}, rows {total_rows}; "
              f"batches answered {batches}, batches cut off or refused {failures}, "
              f"scans stored whose answer was cut off {answer_lost}, 429 waited out {throttled}; "
              f"acknowledged scans lost: {lost_db} in the database, {lost_api} through the API; "
              f"scans stored twice: {twice}; scan ids changed on replay: {changed_id}; "
              f"rows never sent: {stray}; left unsent: {stuck}; unexpected answers: {len(unexpected)}; "
              f"integrity {integrity}")
        for u in unexpected[:10]:
            print("  unexpected:", u, file=sys.stderr)
        failed = bool(lost_db or lost_api or twice or changed_id or stray or stuck or unexpected
                      or integrity != "ok" or total_rows != len(rows) or len(rows) != len(sent))
    finally:
        srv.stop()
        srv.cleanup(keep=args.keep or failed)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
