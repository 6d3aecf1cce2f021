// UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version 7, 74 random bits. Ids made in time
// order land together in the server's unique index (mobile-api/README.md).
let last = 0;
let seq = 0;

export function uuidv7(now = Date.now()) {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  // Within one millisecond a 12-bit counter in rand_a keeps ids of one phone in order.
  if (now <= last) {
    now = last;
    seq = (seq + 1) & 0xfff;
    if (seq === 0) now = ++last;
  } else {
    seq = (bytes[6] & 0x07) << 8 | bytes[7];
  }
  last = now;
  let t = now;
  for (let i = 5; i >= 0; i--) {
    bytes[i] = t % 256;
    t = Math.floor(t / 256);
  }
  bytes[6] = 0x70 | (seq >> 8);
  bytes[7] = seq & 0xff;
  bytes[8] = 0x80 | (bytes[8] & 0x3f);
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
