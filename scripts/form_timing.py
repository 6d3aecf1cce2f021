"""Does the public registration form's answer time tell a registered address from a new one?

    BADGEGATE_BENCH_BIN=target/release/badgegate python3 scripts/form_timing.py [--backend sqlite|postgres] [--pairs 14]

Registers --pairs addresses through the API, then sends the public form (`/e/{slug}/register`,
with its CSRF cookie, as a browser does) alternately for one of those addresses and for a new
one, timing each answer on one kept-alive connection. Prints the medians and the 10th and
90th percentiles of both. The pages are identical (tests check that byte for byte); this
looks at the time only. The public form's per-IP budget (`--register-limit`, 60 posts a minute)
answers 429 beyond that, so keep --pairs at 30 or fewer within a minute.
"""

import argparse
import http.client
import re
import statistics
import time
import urllib.parse

from bench import Server, setup_event


def form_once(host, port, slug, email):
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request("GET", f"/e/{slug}/register")
    res = conn.getresponse()
    page = res.read().decode()
    cookie = res.getheader("set-cookie").split(";", 1)[0]
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"name": "Timing Test", "email": email, "is_adult": "true", "csrf": csrf})
    headers = {"content-type": "application/x-www-form-urlencoded", "cookie": cookie}
    start = time.perf_counter()
    conn.request("POST", f"/e/{slug}/register", body=body, headers=headers)
    res = conn.getresponse()
    res.read()
    took = (time.perf_counter() - start) * 1000
    conn.close()
    if res.status != 200:
        raise SystemExit(f"form answered {res.status} for {email}")
    return took


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    p.add_argument("--pairs", type=int, default=14)
    args = p.parse_args()
    srv = Server(args.backend)
    try:
        event, _ = setup_event(srv)
        slug = srv.request("GET", f"/api/v1/events/{event}", srv.admin)["slug"]
        known = [f"known{i}@example.org" for i in range(args.pairs)]
        for email in known:
            srv.request("POST", f"/api/v1/events/{event}/attendees", srv.admin,
                        {"name": "Known", "email": email, "is_adult": True})
        u = urllib.parse.urlparse(srv.url)
        registered, new = [], []
        for i in range(args.pairs):
            registered.append(form_once(u.hostname, u.port, slug, known[i]))
            new.append(form_once(u.hostname, u.port, slug, f"new{i}@example.org"))
        for label, times in (("registered address", registered), ("new address", new)):
            q = statistics.quantiles(times, n=10)
            print(f"{label:>18}: median {statistics.median(times):7.1f} ms, "
                  f"p10 {q[0]:7.1f} ms, p90 {q[-1]:7.1f} ms ({len(times)} answers)")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
