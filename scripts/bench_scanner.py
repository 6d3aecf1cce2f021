#!/usr/bin/env python3
"""The phone scanner app, measured in headless Chromium against a release build (SQLite).

    scripts/bench_scanner.py shell            # transfer size and time to interactive, Slow 4G
    scripts/bench_scanner.py sync [--scans 5000]

`shell`: a fresh browser profile opens /scan under DevTools' "Slow 4G" network profile
(Network.emulateNetworkConditions: latency 562.5 ms, download 180,000 B/s (1.44 Mbit/s),
upload 84,375 B/s (675 kbit/s); no CPU throttling). Time to interactive is the app's own
`app-ready` mark (modules loaded, IndexedDB opened, the sign-in form wired), counted from
navigation start; bytes are the Resource Timing `transferSize` of everything loaded by
then (headers included). Then a reload, now answered by the service worker. Then the
decoder the app prefetches when the browser has no BarcodeDetector (Chromium on Linux).

`sync`: signs a scanner in through the app, cuts the network, puts N scans in the app's
IndexedDB queue (records as `queue.record` makes them, in one transaction), gives the
network back and times the app's own sync loop (queue.js) until the screen's pending count
is 0 (batches of 500, each answer settled in one IndexedDB transaction, the screen redrawn).

Needs: `cargo build --release`, chromium and chromedriver (Debian), sqlite3. Talks to
127.0.0.1 only.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the shared server, world and invitation helpers)

SLOW_4G = {"offline": False, "latency": 562.5, "downloadThroughput": 180000, "uploadThroughput": 84375}


class Chrome:
    """A bare WebDriver client over chromedriver's HTTP API (no Selenium needed)."""

    def __init__(self, width=390, height=900):
        self.port = bench.free_port()
        self.driver = subprocess.Popen(["/usr/bin/chromedriver", f"--port={self.port}"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.profile = tempfile.mkdtemp(prefix="bg-chrome-")
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/status", timeout=1)
                break
            except Exception:
                time.sleep(0.05)
        caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            f"--window-size={width},{height}", f"--user-data-dir={self.profile}"]}}}}
        self.session = self._call("POST", "/session", caps)["sessionId"]
        self.cmd("POST", "/timeouts", {"script": 600_000, "pageLoad": 600_000})

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=600) as res:
            return json.loads(res.read())["value"]

    def cmd(self, method, path, body=None):
        return self._call(method, f"/session/{self.session}{path}", body)

    def cdp(self, cmd, params=None):
        return self.cmd("POST", "/goog/cdp/execute", {"cmd": cmd, "params": params or {}})

    def js(self, script, *args):
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def js_async(self, script, *args):
        return self.cmd("POST", "/execute/async", {"script": script, "args": list(args)})

    def goto(self, url):
        self.cmd("POST", "/url", {"url": url})

    def wait(self, script, timeout=120, every=0.05):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.js(script) is True:
                return
            time.sleep(every)
        raise RuntimeError(f"timed out waiting for: {script}")

    def quit(self):
        try:
            self.cmd("DELETE", "")
        finally:
            self.driver.terminate()
            self.driver.wait(timeout=10)


READY = "return document.documentElement.dataset.ready === '1'"
MEASURE = """
const ready = performance.getEntriesByName('app-ready')[0];
const until = ready ? ready.startTime : performance.now();
const nav = performance.getEntriesByType('navigation')[0];
const res = performance.getEntriesByType('resource');
const shell = res.filter((r) => r.responseEnd <= until);
const sum = (xs) => xs.reduce((a, r) => a + r.transferSize, 0);
return {tti_ms: until, nav_bytes: nav.transferSize, shell_bytes: nav.transferSize + sum(shell),
        files: shell.length + 1, all_bytes: nav.transferSize + sum(res),
        resources: res.map((r) => [r.name.replace(location.origin, ''), r.transferSize, Math.round(r.responseEnd)])};
"""


def bench_shell(args):
    srv = bench.Server("sqlite")
    chrome = Chrome()
    try:
        chrome.goto("about:blank")
        chrome.cdp("Network.enable")
        chrome.cdp("Network.setCacheDisabled", {"cacheDisabled": False})
        chrome.cdp("Network.emulateNetworkConditions", SLOW_4G)
        chrome.goto(srv.url + "/scan")
        chrome.wait(READY)
        first = chrome.js(MEASURE)
        print(f"first load, Slow 4G: time to interactive {first['tti_ms']:.0f} ms, "
              f"{first['shell_bytes']:,} bytes over the wire in {first['files']} files (gzip)")
        # Let the service worker install and the decoder prefetch finish.
        chrome.wait("return !!navigator.serviceWorker.controller", timeout=120)
        time.sleep(args.settle)
        after = chrome.js(MEASURE)
        decoder = sum(b for name, b, _ in after["resources"] if "/vendor/" in name)
        print(f"  then the decoder prefetched by the page (no BarcodeDetector here): {decoder:,} bytes")
        for name, size, end in after["resources"]:
            print(f"    {name}: {size:,} B, done at {end} ms")
        chrome.js("location.reload()")
        time.sleep(0.2)
        chrome.wait(READY)
        again = chrome.js(MEASURE)
        print(f"reload, Slow 4G, service worker: time to interactive {again['tti_ms']:.0f} ms, "
              f"{again['shell_bytes']:,} bytes over the wire")
        chrome.cdp("Network.emulateNetworkConditions", {**SLOW_4G, "offline": True})
        chrome.js("location.reload()")
        time.sleep(0.2)
        chrome.wait(READY)
        off = chrome.js(MEASURE)
        print(f"reload, offline: time to interactive {off['tti_ms']:.0f} ms")
    finally:
        chrome.quit()
        srv.stop()


def scanner_login(srv, event, partner):
    email = f"scanner-{os.urandom(6).hex()}@partner.example"
    srv.request("POST", f"/api/v1/events/{event}/partners/{partner}/users", srv.admin,
                {"email": email, "role": "scanner"})
    srv.request("POST", "/api/v1/auth/invitations/accept",
                body={"token": bench.invitation_token(srv, email, timeout=120), "password": bench.PASSWORD}, raw=True)
    return email


def bench_sync(args):
    srv = bench.Server("sqlite")
    chrome = Chrome()
    try:
        event, (partner,) = bench.setup_event(srv)
        email = scanner_login(srv, event, partner)
        bench.import_rows(srv, event, args.scans)
        payloads = bench.fetch_payloads(srv, event)[: args.scans]
        chrome.goto(srv.url + "/scan")
        chrome.wait(READY)
        chrome.js("document.getElementById('email').value = arguments[0];"
                  "document.getElementById('password').value = arguments[1];"
                  "document.querySelector('#login-form button[type=submit]').click();", email, bench.PASSWORD)
        chrome.wait("return !document.getElementById('scan').hidden")
        chrome.cdp("Network.enable")
        chrome.cdp("Network.emulateNetworkConditions",
                   {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        t0 = time.time()
        # One IndexedDB transaction for all: queue.record commits (strict durability) once
        # per scan, which is what a phone does over a day, not what is measured here.
        chrome.js_async("""const [codes, done] = [arguments[0], arguments[arguments.length - 1]];
            Promise.all([import('/scan/db.js'), import('/scan/uuidv7.js'), import('/scan/queue.js')])
              .then(async ([db, u, q]) => {
                await db.tx(['scans'], 'readwrite', (s) => { for (const c of codes) {
                  const now = new Date();
                  s.scans.put({client_scan_id: u.uuidv7(now.getTime()), badge: c, scanned_at: now.toISOString(),
                               state: 'pending', saved_at: Date.now()});
                } });
                q.kick();
                done(true);
              });""", payloads)
        queued = time.time() - t0
        chrome.wait(f"return document.getElementById('pending').dataset.count === '{args.scans}'", timeout=60)
        print(f"queued {args.scans:,} scans offline in one IndexedDB transaction in {queued:.1f} s")
        t0 = time.time()
        chrome.cdp("Network.emulateNetworkConditions",
                   {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        chrome.wait("return document.getElementById('pending').dataset.count === '0'", timeout=600, every=0.02)
        took = time.time() - t0
        stored = srv.count("scans")
        print(f"sync [sqlite]: {args.scans:,} queued scans from one phone in {took:.2f} s = "
              f"{args.scans / took:,.0f} scans/s (server holds {stored:,} scans)")
    finally:
        chrome.quit()
        srv.stop()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("shell")
    s.add_argument("--settle", type=float, default=15.0, help="seconds to let the prefetch finish")
    s = sub.add_parser("sync")
    s.add_argument("--scans", type=int, default=5000)
    args = p.parse_args()
    {"shell": bench_shell, "sync": bench_sync}[args.what](args)


if __name__ == "__main__":
    main()
