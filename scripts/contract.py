#!/usr/bin/env python3
"""The API contract, checked by a generic client: schemathesis against a live server.

    scripts/contract.py [--max-examples 15] [--max-time 45] [--backend sqlite|postgres]

Starts the service (debug build, `cargo build` first unless BADGEGATE_CONTRACT_BIN names a
binary) on a fresh data dir and a free port, creates an event, a partner, a partner admin,
a scanner and a participant, then runs `st run mobile-api/openapi.json` once per caller:
no token, the participant's privacy link, the scanner, the partner admin and the admin
(last, because an admin may revoke everyone else's sessions). Each run has a budget of
--max-examples per operation and --max-time seconds. Any finding fails the script:

- not_a_server_error: no 5xx;
- status_code_conformance, content_type_conformance, response_headers_conformance: every
  status, content type and declared header is in the document;
- response_schema_conformance: every body matches its schema;
- positive_data_acceptance: a request the schema allows is not refused (400/413/415/422).
  Only the scan endpoints' business rejections (an unknown, revoked or out-of-window badge:
  422 with a `reason`) are accepted there, because no schema can tell a genuine badge code
  from a random one; the other statuses a schema-valid request may get are schemathesis'
  defaults (2xx, 401, 403, 404, 409, 429).

Needs schemathesis (`pip install -r scripts/requirements-contract.txt`).
"""

import argparse
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from email import message_from_binary_file
from email import policy as email_policy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA = os.path.join(ROOT, "mobile-api", "openapi.json")
PASSWORD = "contract password 123"
PG_ADMIN = os.environ.get("BADGEGATE_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "positive_data_acceptance",
])
# Operations where a request the schema allows may still get 422, because the rule that
# refuses it is one JSON Schema cannot state (it depends on stored records or compares two
# fields). Each is named with its rule; the 422 names the field. Everything else must accept
# every schema-valid request.
REFUSED_BY_RULES = [
    ("POST", "/api/v1/scans", "the badge must be genuine, current and of the caller's event, in its dates"),
    ("POST", "/api/v1/auth/invitations/accept", "the token must be a live invitation"),
    ("POST", "/api/v1/auth/password-reset/confirm", "the token must be a live reset link"),
    ("POST", "/api/v1/me/withdrawals", "either partner_id or all_partners: true"),
    ("POST", "/api/v1/events/{event_id}/attendees/{attendee_id}/withdrawals", "either partner_id or all_partners: true"),
    ("POST", "/api/v1/events", "ends_at after starts_at; time_zone an IANA name; slug unused"),
    ("PATCH", "/api/v1/events/{event_id}", "time_zone an IANA name; registration closes before the event ends"),
    ("GET", "/api/v1/leads", "to not before from"),
    ("POST", "/api/v1/incidents", "the window's end after its start; the scope names records of one event"),
    ("PATCH", "/api/v1/incidents/{incident_id}", "instants in order (discovered, reported, notified, closed)"),
    ("POST", "/api/v1/incidents/{incident_id}/updates", "each of the five items non-blank once trimmed (\"nothing new\" if so)"),
    ("PUT", "/api/v1/partner/questions", "a choice question has 2-10 options, other kinds none; ids unique"),
    ("POST", "/api/v1/events/{event_id}/attendees/import", "the CSV's header and rows (text/csv has no schema)"),
    ("PATCH", "/api/v1/events/{event_id}/attendees/{attendee_id}",
     "registration's checks on each field given: a name or e-mail blank once trimmed, an address it refuses"),
    ("PATCH", "/api/v1/me", "registration's checks on each field given: a name or e-mail blank once trimmed, an address it refuses"),
]
# Operations that end every caller's sessions at once: run alone, after everything else.
LAST = ["/api/v1/security/rotate-token-key"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary():
    given = os.environ.get("BADGEGATE_CONTRACT_BIN")
    if given:
        return given
    subprocess.run(["cargo", "build", "-q", "--bin", "badgegate"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    return os.path.join(target, "debug", "badgegate")


class Server:
    def __init__(self, bin_path, backend):
        self.bin = bin_path
        self.dir = tempfile.mkdtemp(prefix="bg-contract-")
        self.pg_name = None
        env = dict(os.environ)
        env["BADGEGATE_DATA_DIR"] = self.dir
        env["BADGEGATE_LOG"] = os.environ.get("BADGEGATE_LOG", "warn")
        # The per-IP budgets would turn most of a generated run into 429s; the limits
        # themselves are covered by the test suite.
        for name in ["BADGEGATE_LOGIN_LIMIT", "BADGEGATE_REGISTER_LIMIT", "BADGEGATE_PRIVACY_LIMIT"]:
            env[name] = "100000"
        if backend == "postgres":
            self.pg_name = "bg_contract_" + uuid.uuid4().hex
            subprocess.run(["psql", PG_ADMIN, "-qc", f'CREATE DATABASE "{self.pg_name}"'], check=True)
            env["BADGEGATE_DATABASE_URL"] = PG_ADMIN.rsplit("/", 1)[0] + "/" + self.pg_name
        else:
            env.pop("BADGEGATE_DATABASE_URL", None)
        self.env = env
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.proc = subprocess.Popen([self.bin, "serve", "--bind", f"127.0.0.1:{port}"], env=env,
                                     stdout=self.log, stderr=self.log)
        for _ in range(400):
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=1)
                break
            except Exception:
                if self.proc.poll() is not None:
                    raise RuntimeError("the server exited at start")
                time.sleep(0.05)
        subprocess.run([self.bin, "admin", "create", "--email", "admin@example.org"], env=env,
                       input=PASSWORD + "\n", text=True, check=True, stdout=subprocess.DEVNULL)

    def request(self, method, path, token=None, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"content-type": "application/json"} if body is not None else {}
        if token:
            headers["authorization"] = "Bearer " + token
        req = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        with urllib.request.urlopen(req, timeout=60) as res:
            payload = res.read()
            return json.loads(payload) if payload else None

    def login(self, email):
        return self.request("POST", "/api/v1/auth/login", body={"email": email, "password": PASSWORD})

    def mailed_token(self, email, pattern, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for path in glob.glob(os.path.join(self.dir, "outbox", "*.eml")):
                with open(path, "rb") as f:
                    msg = message_from_binary_file(f, policy=email_policy.default)
                if msg["To"] != email:
                    continue
                found = re.search(pattern, msg.get_body(preferencelist=("plain",)).get_content())
                if found:
                    return found.group(1)
            time.sleep(0.1)
        raise RuntimeError(f"nothing mailed to {email}")

    def partner_user(self, admin, event, partner, role):
        email = f"{role}@partner.example"
        created = self.request("POST", f"/api/v1/events/{event}/partners/{partner}/users", admin,
                               {"email": email, "role": role})
        token = self.mailed_token(email, r"/invite/([A-Za-z0-9_-]+)")
        self.request("POST", "/api/v1/auth/invitations/accept", body={"token": token, "password": PASSWORD})
        return created["id"], self.login(email)["access_token"]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        if self.pg_name:
            subprocess.run(["psql", PG_ADMIN, "-qc", f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)'])


def world(srv):
    """The records the callers' runs point their path parameters at."""
    admin = srv.login("admin@example.org")["access_token"]
    now = time.time()
    fmt = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
    event = srv.request("POST", "/api/v1/events", admin,
                        {"name": "Contract", "starts_at": fmt(now - 86400), "ends_at": fmt(now + 86400)})["id"]
    partner = srv.request("POST", f"/api/v1/events/{event}/partners", admin, {"name": "Exhibitor"})["id"]
    partner_admin_id, partner_admin = srv.partner_user(admin, event, partner, "partner_admin")
    scanner_id, scanner = srv.partner_user(admin, event, partner, "scanner")
    attendee = srv.request("POST", f"/api/v1/events/{event}/attendees", admin,
                           {"name": "Ada Participant", "email": "ada@example.org", "company": "Analytical",
                            "is_adult": True, "share_with_all_partners": True})
    participant = attendee["privacy_url"].rstrip("/").rsplit("/", 1)[1]
    badge = attendee["badge"]["fallback_code"]
    scan = srv.request("POST", "/api/v1/scans", scanner,
                       {"client_scan_id": str(uuid.uuid4()), "badge": badge, "scanned_at": fmt(now)})
    leads = srv.request("GET", "/api/v1/leads", partner_admin)
    lead = leads["items"][0]["lead_id"] if leads.get("items") else str(uuid.uuid4())
    ids = {"event_id": event, "partner_id": partner, "attendee_id": attendee["id"], "user_id": scanner_id,
           "lead_id": lead}
    del scan, partner_admin_id
    return ids, {"none": None, "participant": participant, "scanner": scanner, "partner_admin": partner_admin,
                 "admin": admin}


def config_file(dirname, ids):
    """A schemathesis.toml that points path parameters at real records (so operations are
    exercised past their 404) and accepts the scan endpoints' business rejections."""
    lines = ["[parameters]"]
    for name, value in ids.items():
        lines.append(f'"path.{name}" = "{value}"')
    for method, path, _why in REFUSED_BY_RULES:
        lines += [
            "",
            "[[operations]]",
            f'include-method = "{method}"',
            f'include-path = "{path}"',
            'checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]',
        ]
    path = os.path.join(dirname, "schemathesis.toml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def run_st(config, srv, caller, token, args, report_dir, extra, max_time=None):
    cmd = ["st", "--config-file", config, "run", SCHEMA, "--url", srv.url, "--checks", CHECKS,
           "--max-examples", str(args.max_examples), "--max-time", str(max_time or args.max_time),
           "--phases", args.phases, "--workers", "1", "--seed", str(args.seed), "--no-color",
           "--report", "junit", "--report-junit-path", os.path.join(report_dir, f"{caller}.xml")] + extra
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    print(f"== {caller}: st run … {' '.join(extra)}", flush=True)
    started = time.time()
    result = subprocess.run(cmd, cwd=report_dir)
    print(f"== {caller}: exit {result.returncode} in {time.time() - started:.0f} s", flush=True)
    return result.returncode


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--max-examples", type=int, default=15)
    parser.add_argument("--max-time", type=int, default=45, help="seconds per caller")
    parser.add_argument("--phases", default="examples,coverage,fuzzing,stateful")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("CONTRACT_SEED", "1")))
    parser.add_argument("--callers", default="none,participant,scanner,partner_admin,admin")
    parser.add_argument("--report-dir", default=None)
    args = parser.parse_args()
    if shutil.which("st") is None:
        sys.exit("schemathesis is not installed: pip install -r scripts/requirements-contract.txt")
    srv = Server(binary(), args.backend)
    failed = []
    try:
        ids, tokens = world(srv)
        report_dir = args.report_dir or os.path.join(srv.dir, "reports")
        os.makedirs(report_dir, exist_ok=True)
        config = config_file(report_dir, ids)
        exclude = []
        for path in LAST:
            exclude += ["--exclude-path", path]
        for caller in args.callers.split(","):
            if run_st(config, srv, caller, tokens[caller], args, report_dir, exclude) != 0:
                failed.append(caller)
        if "admin" in args.callers.split(","):
            include = []
            for path in LAST:
                include += ["--include-path", path]
            if run_st(config, srv, "admin-last", tokens["admin"], args, report_dir, include, max_time=10) != 0:
                failed.append("admin-last")
        if srv.proc.poll() is not None:
            failed.append("server exited")
        print(f"reports: {report_dir}; server log: {srv.dir}/server.log")
    finally:
        srv.stop()
    if failed:
        sys.exit(f"contract: findings for {', '.join(failed)}")
    print("contract: no findings")


if __name__ == "__main__":
    main()
