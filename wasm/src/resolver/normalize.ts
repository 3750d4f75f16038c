// Host normalization, the filter's half of the routing contract shared with
// the route API (vectors: tests/vectors/hosts.json).  The subset implemented:
//
//   1. At most one ':'; what follows it is a port of 1–5 digits, 1–65535, and is dropped.
//      (IPv6 literals are not DNS names and are rejected.)
//   2. The name must be valid UTF-8.  U+3002, U+FF0E and U+FF61 count as label dots
//      (as in UTS#46); ASCII is lowercased; a label with non-ASCII characters is
//      lowercased with Unicode default case mapping (String#toLowerCase) and
//      Punycode-encoded with an "xn--" prefix.  No NFC/NFKC, no UTS#46 mapping or
//      disallowed-character table, no bidi/contextual rules.
//   3. One trailing dot is dropped.
//   4. The result must be a DNS name: labels of 1–63 characters from a-z 0-9 '-',
//      not starting or ending with '-', at most 253 characters in all.
//
// Pure code (no host calls) so as-pect can test it.

import { punycodeInto } from "./punycode";
import { lowerCodePoint } from "./lowercase";

/** Raw Host values longer than this are refused before any work. */
export const MAX_RAW_HOST: i32 = 1024;
const MAX_NAME: i32 = 253;
const MAX_LABEL: i32 = 63;

function isLdh(c: u32): bool {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2d;
}

/** Validates `n` label bytes at `p`. */
function validLabelAt(p: usize, n: i32): bool {
  if (n < 1 || n > MAX_LABEL) return false;
  for (let i = 0; i < n; i++) {
    if (!isLdh(<u32>load<u8>(p + <usize>i))) return false;
  }
  return load<u8>(p) != 0x2d && load<u8>(p + <usize>(n - 1)) != 0x2d;
}

/**
 * Strict UTF-8 decode into code points; null on any malformed, overlong or
 * surrogate sequence.
 */
function decodeUtf8(ptr: usize, len: i32): Array<u32> | null {
  const out = new Array<u32>();
  let i = 0;
  while (i < len) {
    const b0 = <u32>load<u8>(ptr + <usize>i);
    if (b0 < 0x80) { out.push(b0); i++; continue; }
    let need = 0;
    let cp: u32 = 0;
    let min: u32 = 0;
    if ((b0 & 0xe0) == 0xc0) { need = 1; cp = b0 & 0x1f; min = 0x80; }
    else if ((b0 & 0xf0) == 0xe0) { need = 2; cp = b0 & 0x0f; min = 0x800; }
    else if ((b0 & 0xf8) == 0xf0) { need = 3; cp = b0 & 0x07; min = 0x10000; }
    else return null;
    if (i + need >= len) return null; // truncated sequence
    for (let k = 1; k <= need; k++) {
      const b = <u32>load<u8>(ptr + <usize>(i + k));
      if ((b & 0xc0) != 0x80) return null;
      cp = (cp << 6) | (b & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return null;
    out.push(cp);
    i += need + 1;
  }
  return out;
}

function isDotVariant(cp: u32): bool {
  return cp == 0x2e || cp == 0x3002 || cp == 0xff0e || cp == 0xff61;
}

/**
 * Writes one label given as code points to `out` (at most `cap` bytes):
 * lowercased, Punycode with "xn--" if non-ASCII.  Returns its length or -1.
 */
function labelInto(cps: Array<u32>, out: usize, cap: i32): i32 {
  let ascii = true;
  const lowered = new Array<u32>();
  for (let i = 0; i < cps.length; i++) {
    const c = lowerCodePoint(cps[i]);
    if (c == 0x130) {
      // İ lowercases to two code points, i + combining dot above (full case mapping).
      lowered.push(0x69);
      lowered.push(0x307);
      ascii = false;
      continue;
    }
    lowered.push(c);
    if (c >= 0x80) ascii = false;
  }
  let n = lowered.length;
  if (ascii) {
    if (n > cap) return -1;
    for (let i = 0; i < n; i++) store<u8>(out + <usize>i, <u8>lowered[i]);
  } else {
    if (cap < 4) return -1;
    store<u32>(out, 0x2d2d6e78); // "xn--"
    const m = punycodeInto(lowered, out + 4, cap - 4);
    if (m < 0) return -1;
    n = m + 4;
  }
  return validLabelAt(out, n) ? n : -1;
}

/** Length of the name without ":port", or -1 if the port is malformed. */
function stripPort(ptr: usize, len: i32): i32 {
  let colon = -1;
  for (let i = 0; i < len; i++) {
    if (load<u8>(ptr + <usize>i) == 0x3a) {
      if (colon >= 0) return -1;
      colon = i;
    }
  }
  if (colon < 0) return len;
  const digits = len - colon - 1;
  if (digits < 1 || digits > 5) return -1;
  let port: u32 = 0;
  for (let i = colon + 1; i < len; i++) {
    const c = <u32>load<u8>(ptr + <usize>i);
    if (c < 0x30 || c > 0x39) return -1;
    port = port * 10 + (c - 0x30);
  }
  if (port < 1 || port > 65535) return -1;
  return colon;
}

/** The general path, for names with non-ASCII bytes: code points, lowercase, Punycode. */
function normalizeUnicodeInto(ptr: usize, nameLen: i32, out: usize): i32 {
  const cps = decodeUtf8(ptr, nameLen);
  if (cps === null || cps.length == 0) return -1;
  let end = cps.length;
  if (isDotVariant(cps[end - 1])) end--;
  if (end == 0) return -1;
  let len = 0;
  let label = new Array<u32>();
  for (let i = 0; i <= end; i++) {
    if (i == end || isDotVariant(cps[i])) {
      if (len > 0) {
        if (len >= MAX_NAME) return -1;
        store<u8>(out + <usize>(len++), 0x2e);
      }
      const n = labelInto(label, out + <usize>len, MAX_NAME - len);
      if (n < 0) return -1;
      len += n;
      label = new Array<u32>();
    } else {
      label.push(cps[i]);
    }
  }
  return len;
}

/**
 * Normalizes a raw Host value (bytes as received) into `out`, which must hold
 * MAX_NAME_BYTES.  Returns the name's length, or -1 when the value is not a
 * DNS name.  ASCII input (nearly every Host header) takes a path that
 * allocates nothing.
 */
export function normalizeInto(ptr: usize, len: i32, out: usize): i32 {
  if (len <= 0 || len > MAX_RAW_HOST) return -1;
  const nameLen = stripPort(ptr, len);
  if (nameLen <= 0) return -1;
  for (let i = 0; i < nameLen; i++) {
    if (load<u8>(ptr + <usize>i) >= 0x80) return normalizeUnicodeInto(ptr, nameLen, out);
  }
  let end = nameLen;
  if (load<u8>(ptr + <usize>(end - 1)) == 0x2e) end--;
  if (end == 0 || end > MAX_NAME) return -1;
  let labelStart = 0;
  for (let i = 0; i <= end; i++) {
    if (i == end || load<u8>(ptr + <usize>i) == 0x2e) {
      const n = i - labelStart;
      if (n < 1 || n > MAX_LABEL) return -1;
      if (load<u8>(out + <usize>labelStart) == 0x2d || load<u8>(out + <usize>(i - 1)) == 0x2d) return -1;
      if (i < end) store<u8>(out + <usize>i, 0x2e);
      labelStart = i + 1;
    } else {
      let c = <u32>load<u8>(ptr + <usize>i);
      if (c >= 0x41 && c <= 0x5a) c += 0x20;
      if (!isLdh(c)) return -1;
      store<u8>(out + <usize>i, <u8>c);
    }
  }
  return end;
}

export const MAX_NAME_BYTES: i32 = MAX_NAME;
const NAME_BUF: usize = memory.data(MAX_NAME + 3);

/** Normalizes raw Host bytes to a string; null when not a DNS name. */
export function normalizeHostBytes(ptr: usize, len: i32): string | null {
  const n = normalizeInto(ptr, len, NAME_BUF);
  return n < 0 ? null : String.UTF8.decodeUnsafe(NAME_BUF, <usize>n);
}

export function normalizeHostBuffer(buf: ArrayBuffer): string | null {
  return normalizeHostBytes(changetype<usize>(buf), buf.byteLength);
}

/** Convenience for tests and for hosts that arrive as strings (the change feed). */
export function normalizeHost(host: string): string | null {
  return normalizeHostBuffer(String.UTF8.encode(host));
}
