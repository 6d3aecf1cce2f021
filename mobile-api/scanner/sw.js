// The scanner's service worker: keeps the app shell so /scan opens with no network.
// The server writes the build's asset hash over the placeholder below, so any change to
// an embedded asset makes a new cache and drops the old one. API answers are never
// cached: they carry lead cards and tokens.
const VERSION = "__SCANNER_VERSION__";
const CACHE = `badgegate-scan-${VERSION}`;
const SHELL = [
  "/scan",
  "/scan/app.js",
  "/scan/api.js",
  "/scan/db.js",
  "/scan/queue.js",
  "/scan/camera.js",
  "/scan/uuidv7.js",
  "/scan/app.css",
  "/scan/manifest.webmanifest",
  "/scan/icon-192.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("badgegate-scan-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname !== "/scan" && !url.pathname.startsWith("/scan/")) return;
  if (url.pathname === "/scan/sw.js") return;
  // The shell is answered from the cache first (a hall's Wi-Fi may be up but useless);
  // the vendored decoder is kept the first time it is fetched (its path is versioned).
  const key = url.pathname === "/scan/" ? "/scan" : url.pathname;
  event.respondWith(
    caches.open(CACHE).then(async (cache) => {
      const hit = await cache.match(key, { ignoreVary: true, ignoreSearch: true });
      if (hit) return hit;
      const res = await fetch(event.request);
      if (res.ok && url.pathname.startsWith("/scan/vendor/")) cache.put(key, res.clone());
      return res;
    }),
  );
});
