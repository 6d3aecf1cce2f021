#!/usr/bin/env python3
"""Mail benchmarks against a release build and a local aiosmtpd (Debian's python3-aiosmtpd).

    scripts/bench_mail.py deliver  [--backend sqlite|postgres] [--messages 10000]
    scripts/bench_mail.py register [--backend ...] [--count 3000] [--clients 16]
                                   [--baseline PATH-TO-A-BINARY-WITHOUT-MAIL]

deliver: imports --messages participants in one CSV request (each queues its confirmation
in the import's transaction), then waits until the SMTP server has received every message.
Reports the queueing time, delivery messages/s and the SMTP server's peak RSS.

register: single registrations through the API (--clients concurrent clients), with mail
on (confirmations queued and delivered to aiosmtpd while the registrations run) and mail
off. "Off" is the binary given as --baseline (a build of the commit before the mail
channel); without it, the import with `send_confirmation=false` is no comparison, so the
script says so and measures mail on only.

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


def bench_register(args):
    runs = []
    smtp = Smtp()
    try:
        for label, smtp_url, binary in [("mail on (SMTP)", smtp.url, None), ("mail on (.eml files)", None, None)] + (
                [("mail off (baseline binary)", None, args.baseline)] if args.baseline else []):
            srv = start_server(args.backend, smtp_url, binary)
            try:
                event, _ = bench.setup_event(srv)
                register_many(srv, event, 200, args.clients)  # warm-up
                rate = register_many(srv, event, args.count, args.clients, offset=200)
                runs.append((label, rate))
                print(f"register [{args.backend}] {label}: {args.count} registrations, {args.clients} clients: "
                      f"{rate:,.0f} registrations/s")
            finally:
                srv.stop()
    finally:
        smtp.stop()
    if args.baseline:
        off = runs[-1][1]
        for label, rate in runs[:-1]:
            print(f"  {label}: {100 * (rate - off) / off:+.1f} % against mail off")
    else:
        print("  no --baseline binary: mail off not measured")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["deliver", "register"])
    p.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--messages", type=int, default=10000)
    p.add_argument("--count", type=int, default=3000)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--baseline", help="a badgegate binary built from the commit before the mail channel")
    args = p.parse_args()
    {"deliver": bench_deliver, "register": bench_register}[args.what](args)


if __name__ == "__main__":
    main()
