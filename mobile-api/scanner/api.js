// The API as the app uses it. Tokens come from IndexedDB and go only into the
// Authorization header; they are never logged and never put in a URL.
import * as db from "./db.js";

export class SignedOut extends Error {}
export class HttpError extends Error {
  constructor(status, body, retryAfter) {
    super(`HTTP ${status}`);
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

async function readBody(res) {
  const type = res.headers.get("content-type") || "";
  if (type.includes("json")) {
    try { return await res.json(); } catch { return null; }
  }
  return null;
}

async function send(method, path, body, token, signal) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
    credentials: "omit",
    signal,
  });
  const data = await readBody(res);
  if (!res.ok) {
    const retry = Number(res.headers.get("retry-after"));
    throw new HttpError(res.status, data, Number.isFinite(retry) ? retry : null);
  }
  return { status: res.status, data };
}

function deviceName() {
  const ua = navigator.userAgent;
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Mac/.test(ua) ? "Mac"
    : /Windows/.test(ua) ? "Windows" : "Linux";
  return `Scanner app on ${os}`;
}

// A session as the app stores it, from a login, enrolment or refresh answer.
function sessionFrom(data, email) {
  return {
    email,
    role: data.role,
    access_token: data.access_token,
    access_expires_at: Date.now() + (data.expires_in || 900) * 1000,
    refresh_token: data.refresh_token || null,
    refresh_expires_at: data.refresh_expires_at || null,
    device_id: data.device_id || null,
  };
}

export async function login(email, password, name) {
  const device = { name: (name || deviceName()).slice(0, 80) };
  let answer;
  try {
    answer = await send("POST", "/api/v1/auth/login", { email, password, device });
  } catch (e) {
    // A server without device sessions refuses the field: sign in without one (the app
    // then asks for the password again when the 15-minute token ends).
    const named = e instanceof HttpError && e.status === 422 &&
      (e.body?.errors || []).some((f) => String(f.field || "").startsWith("device"));
    if (!named || e.body?.detail?.includes("staff")) throw e;
    answer = await send("POST", "/api/v1/auth/login", { email, password });
  }
  const s = sessionFrom(answer.data, email);
  await db.saveSession(s);
  return s;
}

export async function enrol(code, name) {
  const device = { name: (name || deviceName()).slice(0, 80) };
  const answer = await send("POST", "/api/v1/auth/enrol", { code, device });
  const s = sessionFrom(answer.data, "");
  await db.saveSession(s);
  try {
    const me = await call("GET", "/api/v1/auth/me");
    s.email = me.data.email;
    await db.saveSession(s);
  } catch {
    // The address only labels the screen; scanning works without it.
  }
  return s;
}

// The server ended this session: keep only the address (to fill in the sign-in form) and
// the queue; tokens and lead cards go.
async function endSession(s) {
  await db.saveSession({ email: s.email, signed_out: true });
  await db.forgetCards();
}

let refreshing = null;

// Ends this phone's device on the server, so that its partner's device list shows it
// signed out and its tokens stop working. Answers whether the server knows it ended: false
// when offline, and the device then stays listed until a partner admin revokes it or the
// event ends.
export async function signOut() {
  // A refresh under way replaces the refresh token: sign out with the one it leaves.
  if (refreshing) await refreshing.catch(() => {});
  const s = await db.session();
  if (!s || !s.refresh_token) return true;
  try {
    // Stalled venue Wi-Fi must not keep the tokens on the phone: give up after 5 s.
    await send("POST", "/api/v1/auth/sign-out", { refresh_token: s.refresh_token }, undefined, AbortSignal.timeout(5000));
    return true;
  } catch (e) {
    // 401: the server had ended this session already.
    return e instanceof HttpError && e.status === 401;
  }
}

// Exchanges the refresh token once; a second caller waits for the same exchange, because
// presenting a used refresh token ends the device session.
async function refresh(current) {
  if (!refreshing) {
    refreshing = (async () => {
      if (!current.refresh_token) throw new SignedOut("no refresh token");
      try {
        const answer = await send("POST", "/api/v1/auth/refresh", { refresh_token: current.refresh_token });
        const s = sessionFrom(answer.data, current.email);
        await db.saveSession(s);
        return s;
      } catch (e) {
        if (e instanceof HttpError && e.status < 500 && e.status !== 429) {
          await endSession(current);
          throw new SignedOut("refresh refused");
        }
        throw e;
      }
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

// An authenticated call: on 401 refresh once and retry; if that fails the app must sign
// in again (the queue stays).
export async function call(method, path, body) {
  let s = await db.session();
  if (!s || !s.access_token) throw new SignedOut("not signed in");
  if (s.refresh_token && s.access_expires_at && s.access_expires_at - Date.now() < 30_000) {
    s = await refresh(s);
  }
  try {
    return await send(method, path, body, s.access_token);
  } catch (e) {
    if (!(e instanceof HttpError) || e.status !== 401) throw e;
    const latest = await db.session();
    if (latest && latest.access_token && latest.access_token !== s.access_token) {
      s = latest;
    } else {
      if (!s.refresh_token) {
        await endSession(s);
        throw new SignedOut("token refused");
      }
      s = await refresh(s);
    }
    try {
      return await send(method, path, body, s.access_token);
    } catch (e2) {
      if (e2 instanceof HttpError && e2.status === 401) {
        await endSession(s);
        throw new SignedOut("token refused after refresh");
      }
      throw e2;
    }
  }
}
