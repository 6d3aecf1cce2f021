#!/usr/bin/env python3
"""Mail benchmarks against a release build and a local aiosmtpd (Debian's python3-aiosmtpd).

    scripts/bench_mail.py deliver  [--backend sqlite|postgres] [--messages 10000]
    scripts/bench_mail.py register [--backend ...] [--count 3000] [--clients 16]
                                   [--baseline PATH-TO-A-BINARY-WITHOUT-MAIL]
                                   [--wrk SECONDS] [--rounds N] [--refused]

deliver: imports --messages participants in one CSV request (each queues its confirmation
in the import's transaction), then waits until the SMTP server has received every message.
Reports the queueing time, delivery messages/s and the SMTP server's peak RSS.

register: single registrations through the API (--clients concurrent clients), with mail
on (confirmations queued and delivered to aiosmtpd while the registrations run) and mail
off. "Off" is the binary given as --baseline: the same commit built with
scripts/no-confirmation-mail.patch applied (registration queues no confirmation; see
BENCHMARKS.md for the commands). Without it, the script says so and measures mail on
only. --refused adds a server whose SMTP server refuses connections: its confirmations
are queued and fail their first attempt (then wait their backoff), so it shows what
queueing costs the requests apart from delivering.

With --wrk SECONDS the registrations come from wrk (16 connections, each request a new
participant) for that long, instead of Python threads: on a 2-core machine the Python
client used about 0.6 of the server's CPU (BENCHMARKS.md, "Session 9"), so whatever the
server spent on mail slowed the client too. A timed run also keeps the mail worker delivering for the whole
measurement, where the 3,000-registration burst was over in about 2 s. --rounds repeats
the three servers in turn and reports each one's median.

Each run starts its own servers, like scripts/bench.py, whose helpers it uses.
"""

import argparse
import concurrent.futures
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


class Smtp:
    """aiosmtpd storing each message as one Maildir file; killed on stop."""

    def __init__(self):
        self.port = bench.free_port()
        self.dir = tempfile.mkdtemp(prefix="bg-smtp-")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}",
             "-c", "aiosmtpd.handlers.Mailbox", os.path.join(self.dir, "maildir")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import socket
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        self.url = f"smtp://127.0.0.1:{self.port}?tls=none"

    def received(self):
        try:
            return len(os.listdir(os.path.join(self.dir, "maildir", "new")))
        except FileNotFoundError:
            return 0

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        subprocess.run(["rm", "-rf", self.dir])


def start_server(backend, smtp_url=None, binary=None):
    if smtp_url:
        os.environ["BADGEGATE_SMTP_URL"] = smtp_url
    else:
        os.environ.pop("BADGEGATE_SMTP_URL", None)
    saved = bench.BIN
    if binary:
        bench.BIN = binary
    try:
        return bench.Server(backend)
    finally:
        bench.BIN = saved


def bench_deliver(args):
    smtp = Smtp()
    srv = start_server(args.backend, smtp.url)
    try:
        event, _ = bench.setup_event(srv)
        with bench.PeakRss(smtp.proc.pid) as smtp_rss, bench.PeakRss(srv.proc.pid) as srv_rss:
            t0 = time.perf_counter()
            srv.request("POST", f"/api/v1/events/{event}/attendees/import", srv.admin,
                        bench.csv_rows(args.messages), content_type="text/csv")
            queued = time.perf_counter() - t0
            while smtp.received() < args.messages:
                time.sleep(0.05)
            total = time.perf_counter() - t0
        time.sleep(1.0)
        extra = smtp.received() - args.messages
        print(f"deliver [{args.backend}]: {args.messages} confirmations queued in {queued:.2f} s (import incl.), "
              f"all delivered {total:.2f} s after the import started = {args.messages / total:,.0f} messages/s "
              f"end to end, {args.messages / (total - queued):,.0f} messages/s after queueing; "
              f"duplicates {extra}; SMTP server RSS idle {smtp_rss.idle // 1024} MiB, peak {smtp_rss.peak // 1024} MiB; "
              f"badgegate peak {srv_rss.peak // 1024} MiB")
    finally:
        srv.stop()
        smtp.stop()


def register_many(srv, event, count, clients, offset=0):
    def one(i):
        body = {"name": f"Person {i}", "email": f"r{i}@example.org", "company": "Initech", "is_adult": True}
        srv.request("POST", f"/api/v1/events/{event}/attendees", srv.admin, body)

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(offset, offset + count)))
    return count / (time.perf_counter() - t0)


REGISTER_LUA = r"""
local event = os.getenv("BG_EVENT")
local token = os.getenv("BG_TOKEN")
-- setup() runs in wrk's main Lua state; each thread has its own state, where only what
-- setup() set with thread:set() is known. Thread t registers participants numbered
-- t * 1000000000 + 1, + 2, ...
local threads = 0
local counter = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  counter = tid * 1000000000
end
request = function()
  counter = counter + 1
  local body = '{"name":"Person ' .. counter .. '","email":"w' .. counter .. '@example.org",'
    .. '"company":"Initech","is_adult":true}'
  return wrk.format("POST", "/api/v1/events/" .. event .. "/attendees",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
"""


def register_wrk(srv, event, seconds, clients):
    """Registrations/s from wrk; every answer must be 201."""
    import re
    lua = os.path.join(tempfile.mkdtemp(prefix="bg-reg-"), "register.lua")
    with open(lua, "w") as f:
        f.write(REGISTER_LUA)
    env = dict(os.environ, BG_EVENT=event, BG_TOKEN=srv.admin)
    out = subprocess.run(["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--latency", "-s", lua, srv.url],
                         env=env, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        sys.exit("some registrations were refused or lost:\n" + out)
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def bench_register(args):
    runs = {}
    smtp = Smtp()
    servers = [("mail on (SMTP)", smtp.url, None), ("mail on (.eml files)", None, None)] + (
        [("mail off (baseline binary)", None, args.baseline)] if args.baseline else [])
    if args.refused:
        # Port 1 refuses at once: what the requests pay for queueing alone.
        servers.append(("mail queued, SMTP refusing", "smtp://127.0.0.1:1?tls=none", None))
    try:
        for r in range(args.rounds):
            for label, smtp_url, binary in servers:
                srv = start_server(args.backend, smtp_url, binary)
                try:
                    event, _ = bench.setup_event(srv)
                    register_many(srv, event, 200, args.clients)  # warm-up
                    if args.wrk:
                        rate = register_wrk(srv, event, args.wrk, args.clients)
                        what = f"wrk {args.wrk} s"
                    else:
                        rate = register_many(srv, event, args.count, args.clients, offset=200)
                        what = f"{args.count} registrations"
                    runs.setdefault(label, []).append(rate)
                    print(f"round {r + 1} register [{args.backend}] {label}: {what}, {args.clients} clients: "
                          f"{rate:,.0f} registrations/s", flush=True)
                finally:
                    srv.stop()
    finally:
        smtp.stop()
    median = {label: sorted(rates)[len(rates) // 2] for label, rates in runs.items()}
    if args.baseline:
        off = median["mail off (baseline binary)"]
        for label, rate in median.items():
            print(f"  {label}: median {rate:,.0f}/s, {100 * (rate - off) / off:+.1f} % against mail off")
    else:
        print("  no --baseline binary: mail off not measured")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["deliver", "register"])
    p.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--messages", type=int, default=10000)
    p.add_argument("--count", type=int, default=3000)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--wrk", type=int, default=0, help="register with wrk for this many seconds")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--refused", action="store_true",
                   help="register: also a server whose SMTP refuses, so its confirmations are queued, not delivered")
    p.add_argument("--baseline", help="the same commit built with scripts/no-confirmation-mail.patch")
    args = p.parse_args()
    {"deliver": bench_deliver, "register": bench_register}[args.what](args)


if __name__ == "__main__":
    main()
