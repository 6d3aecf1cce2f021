// Continuous QR reading from the rear camera: the browser's BarcodeDetector where it reads
// QR codes, else the vendored zxing-wasm polyfill, whose .wasm is served by badgegate
// itself (never a CDN). A frame that reads nothing, or a code that is not ours, never
// stops the loop.
const VENDOR = "/scan/vendor/barcode-detector-3.2.2/ponyfill.js";
const WASM = "/scan/vendor/zxing-wasm-3.1.3/zxing_reader.wasm";
export const DECODER_FILES = [VENDOR, "/scan/vendor/barcode-detector-3.2.2/zxing-exported.js", WASM];
const FRAME_MS = 150;
const SAME_CODE_MS = 4000;

let detectorPromise = null;

export function nativeDetector() {
  return "BarcodeDetector" in globalThis;
}

async function makeDetector() {
  if (nativeDetector()) {
    try {
      const formats = await globalThis.BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) return new globalThis.BarcodeDetector({ formats: ["qr_code"] });
    } catch {
      // Fall through to the polyfill.
    }
  }
  const mod = await import(VENDOR);
  await mod.prepareZXingModule({
    overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? WASM : prefix + path) },
    fireImmediately: true,
  });
  return new mod.BarcodeDetector({ formats: ["qr_code"] });
}

export function detector() {
  if (!detectorPromise) {
    detectorPromise = makeDetector().catch((e) => { detectorPromise = null; throw e; });
  }
  return detectorPromise;
}

let stream = null;
let timer = null;
let last = { code: null, at: 0 };

export function running() {
  return stream !== null;
}

export async function start(video, onCode) {
  if (stream) return;
  const found = await detector();
  stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
    audio: false,
  });
  video.srcObject = stream;
  video.setAttribute("playsinline", "");
  video.muted = true;
  await video.play();
  const tick = async () => {
    if (!stream) return;
    try {
      if (video.readyState >= 2) {
        const codes = await found.detect(video);
        for (const c of codes) {
          const code = String(c.rawValue || "").trim();
          if (!code) continue;
          const now = Date.now();
          // The same code stays in view for many frames: one scan per few seconds.
          if (code === last.code && now - last.at < SAME_CODE_MS) { last.at = now; continue; }
          last = { code, at: now };
          onCode(code);
        }
      }
    } catch {
      // An unreadable frame: try the next one.
    }
    if (stream) timer = setTimeout(tick, FRAME_MS);
  };
  tick();
}

export function stop(video) {
  clearTimeout(timer);
  if (stream) stream.getTracks().forEach((t) => t.stop());
  stream = null;
  if (video) video.srcObject = null;
}

let audio = null;

// Vibration and a short beep; either may be unavailable, and neither is the only signal
// (the result is also written to the live region).
export function feedback(ok) {
  try { navigator.vibrate?.(ok ? 80 : [60, 60, 60]); } catch { /* no vibration */ }
  try {
    audio = audio || new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = ok ? 1320 : 440;
    gain.gain.value = 0.08;
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + (ok ? 0.09 : 0.2));
  } catch { /* no audio */ }
}
