// The offline-first queue: a scan is on disk before anything else happens, and leaves the
// queue only on an answer that settles it (mobile-api/README.md, "Which outcomes leave
// the queue").
import * as db from "./db.js";
import * as api from "./api.js";
import { uuidv7 } from "./uuidv7.js";

const MAX_BATCH = 500;
const THROTTLE_WAIT_MS = 60_000;
const IDLE_RETRY_MS = 30_000;
const MAX_BACKOFF_MS = 60_000;

const listeners = new Set();
export const onChange = (fn) => listeners.add(fn);
const changed = (what) => listeners.forEach((fn) => fn(what));

let signedOutHandler = () => {};
export const onSignedOut = (fn) => { signedOutHandler = fn; };

// Records one scan on the phone; resolves with the stored record once committed.
export async function record(badge, scannedAt = new Date()) {
  const scan = {
    client_scan_id: uuidv7(scannedAt.getTime()),
    badge,
    scanned_at: scannedAt.toISOString(),
    state: "pending",
    saved_at: Date.now(),
  };
  await db.put("scans", scan);
  changed("scan");
  kick();
  return scan;
}

// Keeps a note (notes, rating, answers) for one scan. While the scan waits in the queue
// the note rides with it; afterwards it goes by PUT /scans/{id}/notes.
export async function annotate(clientScanId, note) {
  await db.tx(["scans", "notes"], "readwrite", async (s) => {
    const req = s.notes.get(clientScanId);
    const previous = await new Promise((res) => { req.onsuccess = () => res(req.result); });
    const rev = (previous?.rev || 0) + 1;
    s.notes.put({ client_scan_id: clientScanId, ...note, rev, state: "pending" });
    const sreq = s.scans.get(clientScanId);
    const scan = await new Promise((res) => { sreq.onsuccess = () => res(sreq.result); });
    if (scan && scan.state === "pending") s.scans.put({ ...scan, note: { ...note, rev } });
  });
  changed("note");
  kick();
}

export async function counts() {
  const [scans, notes] = await Promise.all([db.countState("scans", "pending"), db.countState("notes", "pending")]);
  return { scans, notes };
}

export async function recent(limit = 30) {
  const scans = await db.all("scans");
  return scans.sort((a, b) => (a.client_scan_id < b.client_scan_id ? 1 : -1)).slice(0, limit);
}

let timer = null;
let running = false;
let again = false;
let failures = 0;
let batchSize = MAX_BATCH;
let stopped = true;

function backoff() {
  const cap = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(failures, 10));
  return cap / 2 + Math.random() * (cap / 2);
}

function schedule(ms) {
  clearTimeout(timer);
  if (!stopped) timer = setTimeout(run, ms);
}

export function kick() {
  if (stopped) return;
  if (running) { again = true; return; }
  schedule(0);
}

export function start() {
  if (!stopped) return;
  stopped = false;
  failures = 0;
  kick();
}

export function stop() {
  stopped = true;
  clearTimeout(timer);
}

export const status = { lastError: null, syncing: false };

function item(scan) {
  const out = { client_scan_id: scan.client_scan_id, badge: scan.badge, scanned_at: scan.scanned_at };
  if (scan.note) {
    if (scan.note.notes) out.notes = scan.note.notes;
    if (scan.note.rating !== null && scan.note.rating !== undefined) out.rating = scan.note.rating;
    if (scan.note.answers && Object.keys(scan.note.answers).length) out.answers = scan.note.answers;
  }
  return out;
}

// Applies one batch answer in one transaction: settled scans leave the queue with their
// lead card, `throttled` stays.
async function settle(batch, results) {
  const byId = new Map(results.map((r) => [r.client_scan_id, r]));
  let throttled = false;
  await db.tx(["scans", "notes"], "readwrite", (s) => {
    for (const scan of batch) {
      const r = byId.get(scan.client_scan_id);
      if (!r) continue;
      if (r.status === "created" || r.status === "duplicate") {
        s.scans.put({
          ...scan,
          state: "done",
          status: r.status,
          lead: r.lead || null,
          lead_reason: r.lead_reason || null,
          already_scanned: r.already_scanned || null,
          synced_at: Date.now(),
        });
        if (scan.note && r.status === "created") {
          const req = s.notes.get(scan.client_scan_id);
          req.onsuccess = () => {
            const n = req.result;
            if (n && n.rev === scan.note.rev && n.state === "pending") s.notes.put({ ...n, state: "done" });
          };
        }
      } else if (r.reason === "throttled") {
        throttled = true;
      } else {
        s.scans.put({ ...scan, state: "rejected", reason: r.reason || "invalid", detail: r.detail || null });
        const req = s.notes.get(scan.client_scan_id);
        req.onsuccess = () => { if (req.result) s.notes.put({ ...req.result, state: "dropped" }); };
      }
    }
  });
  return throttled;
}

async function syncScans() {
  for (;;) {
    const batch = await db.byState("scans", "pending", batchSize);
    if (!batch.length) return null;
    let answer;
    try {
      answer = await api.call("POST", "/api/v1/scans/batch", { scans: batch.map(item) });
    } catch (e) {
      if (e instanceof api.HttpError && e.status === 413 && batchSize > 1) {
        batchSize = Math.max(1, Math.floor(batchSize / 2));
        continue;
      }
      throw e;
    }
    const throttled = await settle(batch, answer.data.results || []);
    failures = 0;
    batchSize = Math.min(MAX_BATCH, batchSize * 2);
    changed("sync");
    if (throttled) return THROTTLE_WAIT_MS;
  }
}

async function syncNotes() {
  const notes = await db.byState("notes", "pending");
  let later = null;
  for (const n of notes) {
    const scan = await db.get("scans", n.client_scan_id);
    if (!scan || scan.state === "pending") continue;
    if (scan.state === "rejected") {
      await db.put("notes", { ...n, state: "dropped" });
      continue;
    }
    const body = { notes: n.notes || "", rating: n.rating ?? null, answers: n.answers || {} };
    try {
      await api.call("PUT", `/api/v1/scans/${encodeURIComponent(n.client_scan_id)}/notes`, body);
      const latest = await db.get("notes", n.client_scan_id);
      if (latest && latest.rev === n.rev) await db.put("notes", { ...latest, state: "done" });
      changed("note");
    } catch (e) {
      // 404: the server does not know the scan yet (or cannot take notes yet): later.
      if (e instanceof api.HttpError && e.status === 404) { later = IDLE_RETRY_MS; continue; }
      if (e instanceof api.HttpError && e.status === 422) {
        await db.put("notes", { ...n, state: "rejected", detail: e.body?.detail || "refused" });
        changed("note");
        continue;
      }
      throw e;
    }
  }
  return later;
}

async function run() {
  if (running || stopped) return;
  running = true;
  again = false;
  status.syncing = true;
  changed("status");
  let next = null;
  try {
    const afterScans = await syncScans();
    const afterNotes = await syncNotes();
    status.lastError = null;
    next = afterScans ?? afterNotes;
  } catch (e) {
    if (e instanceof api.SignedOut) {
      stopped = true;
      status.lastError = "signed out";
      signedOutHandler();
    } else if (e instanceof api.HttpError && e.status === 429) {
      next = Math.max(1, e.retryAfter || 30) * 1000;
      status.lastError = "busy";
    } else {
      failures += 1;
      next = backoff();
      status.lastError = navigator.onLine ? "server unreachable" : "offline";
    }
  } finally {
    running = false;
    status.syncing = false;
    changed("status");
  }
  if (stopped) return;
  if (again) { schedule(0); return; }
  const c = await counts();
  if (next !== null) schedule(next);
  else if (c.scans || c.notes) schedule(IDLE_RETRY_MS);
}

addEventListener("online", () => { failures = 0; kick(); });
