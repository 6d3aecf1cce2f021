// Everything the app keeps lives in this origin's IndexedDB: the session (tokens, device
// id), the scan queue with the lead cards the server answered, and the note queue.
// Nothing goes to localStorage, a cookie or a URL.
const NAME = "badgegate-scanner";
const VERSION = 1;

let opened = null;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export function open() {
  if (!opened) {
    opened = new Promise((resolve, reject) => {
      const req = indexedDB.open(NAME, VERSION);
      req.onupgradeneeded = () => {
        const db = req.result;
        db.createObjectStore("session");
        const scans = db.createObjectStore("scans", { keyPath: "client_scan_id" });
        scans.createIndex("state", "state");
        const notes = db.createObjectStore("notes", { keyPath: "client_scan_id" });
        notes.createIndex("state", "state");
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  return opened;
}

// Runs `fn(stores)` in one transaction over `names` and resolves once it has committed,
// so "saved on phone" is only ever said of data that is on disk.
export async function tx(names, mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const t = db.transaction(names, mode, { durability: "strict" });
    const stores = Object.fromEntries(names.map((n) => [n, t.objectStore(n)]));
    let result;
    Promise.resolve(fn(stores)).then((r) => { result = r; }, (e) => { t.abort(); reject(e); });
    t.oncomplete = () => resolve(result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error || new Error("aborted"));
  });
}

export const get = (store, key) => tx([store], "readonly", (s) => request(s[store].get(key)));
export const put = (store, value, key) =>
  tx([store], "readwrite", (s) => { s[store].put(value, key); });
export const del = (store, key) => tx([store], "readwrite", (s) => { s[store].delete(key); });
export const all = (store) => tx([store], "readonly", (s) => request(s[store].getAll()));
export const byState = (store, state, limit) =>
  tx([store], "readonly", (s) => request(s[store].index("state").getAll(state, limit)));
export const countState = (store, state) =>
  tx([store], "readonly", (s) => request(s[store].index("state").count(state)));

export async function session() {
  return (await get("session", "current")) || null;
}

export const saveSession = (value) => put("session", value, "current");

// Sign-out: tokens, lead cards and notes go; the caller has checked that nothing waits.
export const clearAll = () =>
  tx(["session", "scans", "notes"], "readwrite", (s) => {
    s.session.clear();
    s.scans.clear();
    s.notes.clear();
  });

// When the server ends the session (device revoked, user disabled): the lead cards and
// colleagues' addresses go, the unsynced queue stays for whoever signs in next.
export const forgetCards = () =>
  tx(["scans"], "readwrite", (s) => {
    const req = s.scans.openCursor();
    req.onsuccess = () => {
      const c = req.result;
      if (!c) return;
      if (c.value.lead || c.value.already_scanned) c.update({ ...c.value, lead: null, already_scanned: null });
      c.continue();
    };
  });
