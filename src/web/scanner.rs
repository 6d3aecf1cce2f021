//! The phone scanner app at `/scan`: static files embedded in the binary from
//! `mobile-api/scanner/` (plain ES modules, no build step), served with their own
//! Content-Security-Policy and Permissions-Policy. The app talks to `/api/v1` like any
//! other client; nothing here reads the database.
//!
//! Caching: the shell (HTML, modules, CSS, manifest, icons) carries an ETag and is
//! revalidated, so a new binary reaches phones at their next online start; the vendored
//! decoder has its version in its path and is kept for a year. The service worker's cache
//! name is the hash of every embedded file, so any change installs a new cache.

use std::collections::HashMap;
use std::io::Write;
use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// The policy of every `/scan` answer: scripts only from this origin, WebAssembly compiled
/// from those scripts (the zxing decoder), the camera's stream as a blob, no inline code.
pub const SCANNER_CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
     img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; worker-src 'self'; \
     manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The camera for this origin only (the rest of the site sends no camera permission).
pub const SCANNER_PERMISSIONS: &str = "camera=(self), microphone=(), geolocation=(), payment=(), usb=()";

/// The placeholder in `sw.js` that the build's hash replaces.
const VERSION_PLACEHOLDER: &str = "__SCANNER_VERSION__";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Caching {
    /// Revalidated on every load (ETag).
    Shell,
    /// Versioned path: kept for a year.
    Immutable,
    /// The service worker script: the browser checks it for updates itself.
    Worker,
}

struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    caching: Caching,
}

macro_rules! asset {
    ($path:literal, $file:literal, $type:literal, $caching:ident) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/mobile-api/scanner/", $file)),
            caching: Caching::$caching,
        }
    };
}

static ASSETS: &[Asset] = &[
    asset!("/scan", "index.html", "text/html; charset=utf-8", Shell),
    asset!("/scan/app.js", "app.js", "text/javascript; charset=utf-8", Shell),
    asset!("/scan/api.js", "api.js", "text/javascript; charset=utf-8", Shell),
    asset!("/scan/db.js", "db.js", "text/javascript; charset=utf-8", Shell),
    asset!("/scan/queue.js", "queue.js", "text/javascript; charset=utf-8", Shell),
    asset!("/scan/camera.js", "camera.js", "text/javascript; charset=utf-8", Shell),
    asset!("/scan/uuidv7.js", "uuidv7.js", "text/javascript; charset=utf-8", Shell),
    asset!("/scan/app.css", "app.css", "text/css; charset=utf-8", Shell),
    asset!("/scan/manifest.webmanifest", "manifest.webmanifest", "application/manifest+json", Shell),
    asset!("/scan/icon-192.png", "icon-192.png", "image/png", Shell),
    asset!("/scan/icon-512.png", "icon-512.png", "image/png", Shell),
    asset!("/scan/icon-maskable-512.png", "icon-maskable-512.png", "image/png", Shell),
    asset!("/scan/sw.js", "sw.js", "text/javascript; charset=utf-8", Worker),
    asset!(
        "/scan/vendor/barcode-detector-3.2.2/ponyfill.js",
        "vendor/barcode-detector-3.2.2/ponyfill.js",
        "text/javascript; charset=utf-8",
        Immutable
    ),
    asset!(
        "/scan/vendor/barcode-detector-3.2.2/zxing-exported.js",
        "vendor/barcode-detector-3.2.2/zxing-exported.js",
        "text/javascript; charset=utf-8",
        Immutable
    ),
    asset!(
        "/scan/vendor/barcode-detector-3.2.2/LICENSE",
        "vendor/barcode-detector-3.2.2/LICENSE",
        "text/plain; charset=utf-8",
        Immutable
    ),
    asset!(
        "/scan/vendor/zxing-wasm-3.1.3/zxing_reader.wasm",
        "vendor/zxing-wasm-3.1.3/zxing_reader.wasm",
        "application/wasm",
        Immutable
    ),
    asset!(
        "/scan/vendor/zxing-wasm-3.1.3/LICENSE",
        "vendor/zxing-wasm-3.1.3/LICENSE",
        "text/plain; charset=utf-8",
        Immutable
    ),
    asset!(
        "/scan/vendor/zxing-wasm-3.1.3/LICENSE.zxing-cpp",
        "vendor/zxing-wasm-3.1.3/LICENSE.zxing-cpp",
        "text/plain; charset=utf-8",
        Immutable
    ),
];

/// One file as answered: its bytes (the worker with its version written in), a gzip copy
/// when that is smaller, and its ETag.
struct Prepared {
    content_type: &'static str,
    caching: Caching,
    body: Bytes,
    gzip: Option<Bytes>,
    etag: String,
}

fn short_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes)).chars().take(20).collect()
}

fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(body).ok()?;
    let out = encoder.finish().ok()?;
    // Images are compressed already; keep only copies that save something real.
    (out.len() + 64 < body.len()).then_some(out)
}

/// Built once, on the first request: hashing and compressing the 1 MB decoder takes a
/// few tens of milliseconds, not worth doing at every start.
fn prepared() -> &'static HashMap<&'static str, Prepared> {
    static PREPARED: OnceLock<HashMap<&'static str, Prepared>> = OnceLock::new();
    PREPARED.get_or_init(|| {
        let mut all = Sha256::new();
        for asset in ASSETS.iter().filter(|a| a.caching != Caching::Worker) {
            all.update(asset.path.as_bytes());
            all.update(asset.body);
        }
        let version: String = hex::encode(all.finalize()).chars().take(16).collect();
        ASSETS
            .iter()
            .map(|asset| {
                let body = if asset.caching == Caching::Worker {
                    String::from_utf8_lossy(asset.body).replace(VERSION_PLACEHOLDER, &version).into_bytes()
                } else {
                    asset.body.to_vec()
                };
                let gzip = if asset.content_type.starts_with("image/") { None } else { gzip(&body).map(Bytes::from) };
                let etag = format!("\"{}\"", short_hash(&body));
                let body = Bytes::from(body);
                (asset.path, Prepared { content_type: asset.content_type, caching: asset.caching, body, gzip, etag })
            })
            .collect()
    })
}

fn accepts_gzip(req: &HttpRequest) -> bool {
    req.headers().get_all(header::ACCEPT_ENCODING).filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            name.eq_ignore_ascii_case("gzip") && !refused
        },
    )
}

fn answer(req: &HttpRequest, path: &str) -> HttpResponse {
    let Some(file) = prepared().get(path) else {
        return crate::web::error_answer(req, &AppError::NotFound, false);
    };
    let cache_control = match file.caching {
        Caching::Immutable => "public, max-age=31536000, immutable",
        Caching::Shell | Caching::Worker => "no-cache",
    };
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::ETAG, file.etag.as_str()))
        .insert_header((header::VARY, "Accept-Encoding"))
        .insert_header((header::CONTENT_SECURITY_POLICY, SCANNER_CSP))
        .insert_header(("Permissions-Policy", SCANNER_PERMISSIONS))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"));
    if file.caching == Caching::Worker {
        // The worker sits under /scan/ but controls /scan itself, the app's address.
        res.insert_header(("Service-Worker-Allowed", "/scan"));
    }
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim().trim_start_matches("W/") == file.etag));
    if unchanged {
        return res.status(actix_web::http::StatusCode::NOT_MODIFIED).finish();
    }
    res.content_type(file.content_type);
    match &file.gzip {
        Some(gz) if accepts_gzip(req) => res.insert_header((header::CONTENT_ENCODING, "gzip")).body(gz.clone()),
        _ => res.body(file.body.clone()),
    }
}

/// `GET /scan`: the app shell.
pub async fn shell(req: HttpRequest) -> HttpResponse {
    answer(&req, "/scan")
}

/// `GET /scan/{asset}`: the app's modules, style, manifest, icons, worker and the vendored
/// decoder with its licences. `/scan/` is the shell too.
pub async fn asset(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let name = path.into_inner();
    if name.is_empty() {
        return answer(&req, "/scan");
    }
    answer(&req, &format!("/scan/{name}"))
}

/// The files served under `/scan`, with their sizes: the benchmark and tests list them.
pub fn files() -> Vec<(&'static str, usize)> {
    ASSETS.iter().map(|a| (a.path, a.body.len())).collect()
}
