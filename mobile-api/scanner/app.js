// The scanner app: screens and their wiring. Data lives in db.js, the queue and its sync
// in queue.js, the camera in camera.js. Every text shown is set with textContent.
import * as db from "./db.js";
import * as api from "./api.js";
import * as queue from "./queue.js";
import * as camera from "./camera.js";

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

const REASONS = {
  unknown_badge: "Not a badge of this service, or mistyped.",
  other_event: "This badge belongs to another event.",
  badge_revoked: "This badge is no longer valid.",
  event_closed: "The event no longer accepts scans.",
  outside_event_dates: "Scanned outside the event's dates.",
  scanned_at_in_future: "This phone's clock is ahead: check the time.",
  invalid: "The server could not read this code.",
  throttled: "Too many unknown badges: waiting a minute before trying again.",
};
const CARD_REASONS = {
  withdrawn: "Scan kept. This participant does not share contact details with your company.",
  partner_suspended: "Scan kept. Lead details are paused for your company by the organiser.",
};

const time = (iso) => {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
};

let current = null; // the client_scan_id the result card shows
let noteFor = null;
let questions = [];
let resultTimer = null;

function show(screen) {
  for (const id of ["boot", "signin", "scan", "note"]) $(id).hidden = id !== screen;
}

async function renderPending() {
  const c = await queue.counts();
  const p = $("pending");
  p.dataset.count = String(c.scans);
  p.dataset.notes = String(c.notes);
  const parts = [];
  if (c.scans) parts.push(`${c.scans} ${c.scans === 1 ? "scan" : "scans"}`);
  if (c.notes) parts.push(`${c.notes} ${c.notes === 1 ? "note" : "notes"}`);
  p.textContent = parts.length
    ? `${parts.join(" and ")} saved on phone, waiting to sync${queue.status.syncing ? " (syncing…)" : ""}`
    : "All scans synced";
  if (!parts.length) p.dataset.count = "0";
}

function renderNet() {
  $("net").textContent = navigator.onLine ? "Online" : "Offline";
}

function scanCard(scan, note) {
  const children = [];
  let cls = "card";
  if (scan.state === "pending") {
    children.push(el("p", { class: "state saved" }, "Saved on phone"));
    children.push(el("p", { class: "help" }, navigator.onLine ? "Sending…" : "Will sync when the network is back."));
  } else if (scan.state === "rejected") {
    cls += " bad";
    children.push(el("p", { class: "state bad" }, "Not recorded"));
    children.push(el("p", {}, REASONS[scan.reason] || scan.detail || "Refused by the server."));
  } else {
    cls += " ok";
    if (scan.lead && (scan.lead.name || scan.lead.company)) {
      children.push(el("p", { class: "name" }, scan.lead.name || ""));
      children.push(el("p", { class: "company" }, scan.lead.company || ""));
    } else {
      children.push(el("p", {}, CARD_REASONS[scan.lead_reason] || "Scan recorded."));
    }
    children.push(el("p", { class: "state saved" }, scan.status === "duplicate" ? "Recorded (again)" : "Recorded"));
    const a = scan.already_scanned;
    if (a && a.by) {
      const who = a.by_you ? "you" : a.by;
      children.push(el("div", { class: "already" },
        el("p", {}, `Already scanned by ${who} at ${time(a.at)}.`),
        el("button", { type: "button", class: "secondary", onclick: () => openNote(scan.client_scan_id) }, "Add a note")));
    }
  }
  if (scan.state !== "rejected" && !(scan.already_scanned && scan.already_scanned.by)) {
    children.push(el("button", { type: "button", class: "secondary", onclick: () => openNote(scan.client_scan_id) },
      note ? "Edit note" : "Add a note"));
  }
  return el("div", { class: cls, "data-scan": scan.client_scan_id, "data-state": scan.state }, children);
}

async function renderResult() {
  if (!current) return;
  const scan = await db.get("scans", current);
  if (!scan) return;
  const note = await db.get("notes", current);
  $("result").replaceChildren(scanCard(scan, note));
}

function flash(message) {
  clearTimeout(resultTimer);
  current = null;
  $("result").replaceChildren(el("div", { class: "card bad" }, el("p", { class: "state bad" }, message)));
  resultTimer = setTimeout(() => { if (!current) $("result").replaceChildren(); }, 2500);
}

async function renderRecent() {
  const scans = await queue.recent(30);
  const items = scans.map((s) => {
    let tag;
    if (s.state === "pending") tag = el("span", { class: "tag wait" }, "saved on phone");
    else if (s.state === "rejected") tag = el("span", { class: "tag bad" }, "not recorded");
    else tag = el("span", { class: "tag ok" }, "synced");
    const what = s.lead && (s.lead.name || s.lead.company)
      ? [s.lead.name, s.lead.company].filter(Boolean).join(", ")
      : s.state === "rejected" ? (REASONS[s.reason] || "Refused") : s.badge;
    return el("li", { "data-scan": s.client_scan_id },
      el("span", { class: "what" }, what),
      el("span", { class: "when" }, time(s.scanned_at)),
      tag,
      s.state !== "rejected"
        ? el("button", { type: "button", class: "link", onclick: () => openNote(s.client_scan_id),
            "aria-label": `Note on the scan at ${time(s.scanned_at)}` }, "Note")
        : null);
  });
  $("recent").replaceChildren(...(items.length ? items : [el("li", {}, "No scans yet.")]));
}

async function refreshAll() {
  await Promise.all([renderPending(), renderResult(), renderRecent()]);
}

async function recordBadge(code) {
  const scan = await queue.record(code);
  camera.feedback(true);
  clearTimeout(resultTimer);
  current = scan.client_scan_id;
  await refreshAll();
}

function onCameraCode(code) {
  if (/^BG1-/i.test(code)) {
    recordBadge(code);
  } else {
    camera.feedback(false);
    flash(/^BGENROL1-/i.test(code) ? "That is an enrolment code, not a badge." : "Not a badge.");
  }
}

async function toggleCamera() {
  const button = $("camera-toggle");
  if (camera.running()) {
    camera.stop($("video"));
    $("camera-view").hidden = true;
    button.textContent = "Start camera";
    return;
  }
  button.disabled = true;
  button.textContent = "Starting camera…";
  $("camera-view").hidden = false;
  try {
    await camera.start($("video"), onCameraCode);
    button.textContent = "Stop camera";
  } catch (e) {
    $("camera-view").hidden = true;
    button.textContent = "Start camera";
    flash(e && e.name === "NotAllowedError" ? "The camera is not allowed: type the code instead."
      : "No camera available: type the code instead.");
  } finally {
    button.disabled = false;
  }
}

async function loadQuestions() {
  try {
    const answer = await api.call("GET", "/api/v1/partner/questions");
    questions = answer.data.questions || [];
    await db.put("session", questions, "questions");
  } catch {
    questions = (await db.get("session", "questions")) || [];
  }
}

async function openNote(id) {
  const scan = await db.get("scans", id);
  if (!scan) return;
  noteFor = id;
  const note = (await db.get("notes", id)) || {};
  $("note-who").textContent = scan.lead && scan.lead.name
    ? `${scan.lead.name}${scan.lead.company ? `, ${scan.lead.company}` : ""} (scanned at ${time(scan.scanned_at)})`
    : `Scan at ${time(scan.scanned_at)}`;
  $("note-text").value = note.notes || "";
  $("note-rating").value = note.rating === null || note.rating === undefined ? "" : String(note.rating);
  const answers = note.answers || {};
  const fields = questions.map((q, i) => {
    const fid = `q-${i}`;
    const label = el("label", { for: fid }, q.text);
    let input;
    if (q.kind === "choice") {
      input = el("select", { id: fid, "data-q": q.id },
        el("option", { value: "" }, "No answer"), (q.options || []).map((o) => el("option", { value: o }, o)));
    } else if (q.kind === "rating") {
      input = el("select", { id: fid, "data-q": q.id },
        el("option", { value: "" }, "No answer"), [0, 1, 2, 3, 4, 5].map((n) => el("option", { value: String(n) }, String(n))));
    } else {
      input = el("input", { id: fid, "data-q": q.id, maxlength: "500" });
    }
    input.value = answers[q.id] || "";
    return [label, input];
  });
  $("questions").replaceChildren(...fields.flat());
  show("note");
  $("note-text").focus();
}

async function saveNote(event) {
  event.preventDefault();
  if (!noteFor) return;
  const answers = {};
  for (const input of $("questions").querySelectorAll("[data-q]")) {
    if (input.value.trim()) answers[input.dataset.q] = input.value.trim();
  }
  const rating = $("note-rating").value;
  await queue.annotate(noteFor, {
    notes: $("note-text").value.trim(),
    rating: rating === "" ? null : Number(rating),
    answers,
  });
  current = noteFor;
  noteFor = null;
  await showScan();
}

async function showScan() {
  const s = await db.session();
  $("who").textContent = s && s.email ? `Signed in as ${s.email}` : "";
  $("signout-msg").textContent = "";
  show("scan");
  await refreshAll();
  if (matchMedia("(pointer: fine)").matches) $("code").focus();
}

async function showSignin(message) {
  camera.stop($("video"));
  $("camera-view").hidden = true;
  $("camera-toggle").textContent = "Start camera";
  const s = await db.session();
  if (s && s.email) $("email").value = s.email;
  const c = await queue.counts();
  const kept = c.scans || c.notes
    ? ` The ${c.scans} scans and ${c.notes} notes on this phone are kept and sync once you are signed in.` : "";
  $("signin-msg").textContent = message ? message + kept : "";
  $("signin-msg").classList.remove("info");
  show("signin");
  await renderPending();
}

function loginError(e) {
  if (e instanceof api.HttpError) {
    if (e.status === 401) return "That did not work: check the e-mail and password, or ask for a new code.";
    if (e.status === 429) return `Too many attempts: wait ${e.retryAfter || 60} seconds.`;
    if (e.status === 422) return e.body?.errors?.[0]?.message || e.body?.detail || "Check the form.";
    return "The server could not sign you in; try again.";
  }
  return "No network: signing in needs a connection.";
}

async function signedIn(s) {
  if (s.role !== "scanner" && s.role !== "partner_admin") {
    await db.del("session", "current");
    await showSignin("This account cannot scan badges: sign in as a partner's scanner.");
    return;
  }
  $("password").value = "";
  $("enrol-code").value = "";
  queue.start();
  loadQuestions();
  await showScan();
}

async function onLogin(event) {
  event.preventDefault();
  $("signin-msg").textContent = "";
  try {
    const s = await api.login($("email").value.trim(), $("password").value, $("device-name").value.trim());
    await signedIn(s);
  } catch (e) {
    $("signin-msg").textContent = loginError(e);
  }
}

async function enrolWith(code) {
  const clean = code.trim().replace(/^BGENROL1-/i, "");
  if (!clean) return;
  camera.stop($("enrol-video"));
  $("enrol-view").hidden = true;
  $("signin-msg").textContent = "";
  try {
    await signedIn(await api.enrol(clean, $("device-name").value.trim()));
  } catch (e) {
    $("signin-msg").textContent = loginError(e);
  }
}

async function scanEnrolment() {
  if (camera.running()) {
    camera.stop($("enrol-video"));
    $("enrol-view").hidden = true;
    return;
  }
  $("enrol-view").hidden = false;
  try {
    await camera.start($("enrol-video"), (code) => {
      if (/^BGENROL1-/i.test(code)) { camera.feedback(true); enrolWith(code); } else { camera.feedback(false); }
    });
  } catch {
    $("enrol-view").hidden = true;
    $("signin-msg").textContent = "No camera available: type the code instead.";
  }
}

async function signOut() {
  const c = await queue.counts();
  if (c.scans || c.notes) {
    $("signout-msg").textContent =
      `Not signed out: ${c.scans} scans and ${c.notes} notes are not synced yet. Connect to the network and wait until they are.`;
    return;
  }
  queue.stop();
  camera.stop($("video"));
  const ended = await api.signOut();
  await db.clearAll();
  current = null;
  $("result").replaceChildren();
  await showSignin();
  $("signin-msg").textContent = ended
    ? "Signed out. Lead cards and tokens were removed from this phone."
    : "Signed out on this phone: lead cards and tokens were removed. The service could not be reached, so this "
      + "phone stays listed as active in your partner's devices until a partner admin revokes it or the event ends.";
  $("signin-msg").classList.add("info");
}

async function boot() {
  $("login-form").addEventListener("submit", onLogin);
  $("enrol-form").addEventListener("submit", (e) => { e.preventDefault(); enrolWith($("enrol-code").value); });
  $("enrol-camera").addEventListener("click", scanEnrolment);
  $("manual-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const code = $("code").value.trim();
    if (!code) return;
    $("code").value = "";
    await recordBadge(code);
    $("code").focus();
  });
  $("camera-toggle").addEventListener("click", toggleCamera);
  $("signout").addEventListener("click", signOut);
  $("note-form").addEventListener("submit", saveNote);
  $("note-cancel").addEventListener("click", () => { noteFor = null; showScan(); });
  addEventListener("online", () => { renderNet(); refreshAll(); });
  addEventListener("offline", () => { renderNet(); refreshAll(); });
  queue.onChange(() => { if (!$("scan").hidden) refreshAll(); else renderPending(); });
  queue.onSignedOut(() => showSignin("Your session has ended. Sign in again."));
  renderNet();

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/scan/sw.js", { scope: "/scan" }).then(() => {
      // Phones without a native detector need the decoder offline too: fetch it once
      // through the service worker, which keeps it.
      if (!camera.nativeDetector()) camera.DECODER_FILES.forEach((f) => fetch(f).catch(() => {}));
    }).catch(() => {});
  }

  const s = await db.session();
  if (s && s.access_token && !s.signed_out) {
    queue.start();
    loadQuestions();
    await showScan();
  } else {
    await showSignin(s && s.signed_out ? "Your session has ended. Sign in again." : "");
  }
  document.documentElement.dataset.ready = "1";
  performance.mark("app-ready");
}

boot();
