// Checks of what the route API sends before it reaches nginx: a backend as
// stored, and the addresses it resolves to.  The API validates fully; this is
// defence in depth against a value that would change the meaning of
// `proxy_pass http://$backend$request_uri`.  One grammar for the three places
// that parse a backend (api/src/backend.ts, this file, nginx/src/backend_addr.rs),
// checked against tests/vectors/backends.json:
//   unix:/path     path of [A-Za-z0-9._-/], at most 107 bytes, not ending in '/'
//   a.b.c.d:port   IPv4 in canonical form
//   [v6]:port      hex digits, ':' and '.' in brackets
//   name:port      a lowercase DNS name (labels of 1-63 [a-z0-9-], no '-' at either end; 253 in all)
// with port 1-65535 without leading zeros, at most MAX_BACKEND_TEXT bytes.  Pure code.

/** A backend as the API stores it is at most this long. */
export const MAX_BACKEND_TEXT: i32 = 512;
/** sun_path holds 108 bytes with its NUL. */
const MAX_UNIX_PATH: i32 = 107;
const MAX_NAME: i32 = 253;
const MAX_LABEL: i32 = 63;

export namespace BackendKind {
  export const Invalid: i32 = 0;
  export const Name: i32 = 1;
  export const IPv4: i32 = 2;
  export const IPv6: i32 = 3;
  export const Unix: i32 = 4;
}

function isDigit(c: i32): bool { return c >= 0x30 && c <= 0x39; }
function isLower(c: i32): bool { return c >= 0x61 && c <= 0x7a; }

function isUnixPathChar(c: i32): bool {
  return isDigit(c) || isLower(c) || (c >= 0x41 && c <= 0x5a) || c == 0x2e || c == 0x5f || c == 0x2d || c == 0x2f;
}

function isHex(c: i32): bool {
  return isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

/**
 * An IPv6 address in b[from, to): groups of 1-4 hex digits separated by ':',
 * at most one "::" standing for the missing groups, optionally ending in a
 * dotted IPv4 address worth two groups.  No zone id.
 */
function isIPv6(b: string, from: i32, to: i32): bool {
  let groups = 0;
  let compressed = false;
  let i = from;
  if (to - i >= 2 && b.charCodeAt(i) == 0x3a && b.charCodeAt(i + 1) == 0x3a) {
    compressed = true;
    i += 2;
    if (i == to) return true;
  }
  while (i < to) {
    let digits = 0;
    const start = i;
    while (i < to && isHex(b.charCodeAt(i))) { i++; digits++; }
    if (i < to && b.charCodeAt(i) == 0x2e) {
      // The embedded IPv4 ends the address.
      if (!isIPv4(b, start, to)) return false;
      groups += 2;
      i = to;
      break;
    }
    if (digits == 0 || digits > 4) return false;
    groups++;
    if (i == to) break;
    if (b.charCodeAt(i) != 0x3a) return false;
    i++;
    if (i < to && b.charCodeAt(i) == 0x3a) {
      if (compressed) return false;
      compressed = true;
      i++;
      if (i == to) break;
    } else if (i == to) {
      return false; // a single ':' at the end
    }
  }
  return compressed ? groups <= 7 : groups == 8;
}

/** Port 1-65535 in b[from, to), decimal without a leading zero. */
function validPort(b: string, from: i32, to: i32): bool {
  const n = to - from;
  if (n < 1 || n > 5 || b.charCodeAt(from) == 0x30) return false;
  let port: i32 = 0;
  for (let i = from; i < to; i++) {
    const c = b.charCodeAt(i);
    if (!isDigit(c)) return false;
    port = port * 10 + (c - 0x30);
  }
  return port <= 65535;
}

/** a.b.c.d in b[from, to): four decimal octets, no leading zeros. */
function isIPv4(b: string, from: i32, to: i32): bool {
  let octets = 0;
  let i = from;
  while (i < to) {
    let n = 0;
    let digits = 0;
    const start = i;
    while (i < to && isDigit(b.charCodeAt(i))) { n = n * 10 + (b.charCodeAt(i) - 0x30); i++; digits++; }
    if (digits == 0 || digits > 3 || n > 255 || (digits > 1 && b.charCodeAt(start) == 0x30)) return false;
    octets++;
    if (i == to) break;
    if (b.charCodeAt(i) != 0x2e || octets == 4) return false;
    i++;
    if (i == to) return false;
  }
  return octets == 4;
}

/** A lowercase DNS name in b[from, to), as the API's isDnsName. */
function isDnsName(b: string, from: i32, to: i32): bool {
  if (to - from < 1 || to - from > MAX_NAME) return false;
  let labelStart = from;
  for (let i = from; i <= to; i++) {
    if (i < to && b.charCodeAt(i) != 0x2e) {
      const c = b.charCodeAt(i);
      if (!isDigit(c) && !isLower(c) && c != 0x2d) return false;
      continue;
    }
    const len = i - labelStart;
    if (len < 1 || len > MAX_LABEL) return false;
    if (b.charCodeAt(labelStart) == 0x2d || b.charCodeAt(i - 1) == 0x2d) return false;
    labelStart = i + 1;
  }
  return true;
}

/** What kind of backend b[from, to) is, or Invalid. */
export function backendKindIn(b: string, from: i32, to: i32): i32 {
  const n = to - from;
  if (n < 3 || n > MAX_BACKEND_TEXT) return BackendKind.Invalid;
  if (n > 6 && b.substr(from, 6) == "unix:/") {
    const pathLen = n - 5;
    if (pathLen > MAX_UNIX_PATH || b.charCodeAt(to - 1) == 0x2f) return BackendKind.Invalid;
    for (let i = from + 5; i < to; i++) if (!isUnixPathChar(b.charCodeAt(i))) return BackendKind.Invalid;
    return BackendKind.Unix;
  }
  let colon = -1;
  for (let i = to - 1; i >= from; i--) if (b.charCodeAt(i) == 0x3a) { colon = i; break; }
  if (colon <= from || !validPort(b, colon + 1, to)) return BackendKind.Invalid;
  if (b.charCodeAt(from) == 0x5b) {
    if (colon - from < 4 || b.charCodeAt(colon - 1) != 0x5d) return BackendKind.Invalid;
    return isIPv6(b, from + 1, colon - 1) ? BackendKind.IPv6 : BackendKind.Invalid;
  }
  if (isDigit(b.charCodeAt(colon - 1))) {
    // A name's last label may not be all digits in practice; the API treats
    // any [0-9.] host as an IPv4 address, and so does this check.
    let numeric = true;
    for (let i = from; i < colon; i++) {
      const c = b.charCodeAt(i);
      if (!isDigit(c) && c != 0x2e) { numeric = false; break; }
    }
    if (numeric) return isIPv4(b, from, colon) ? BackendKind.IPv4 : BackendKind.Invalid;
  }
  return isDnsName(b, from, colon) ? BackendKind.Name : BackendKind.Invalid;
}

export function backendKind(b: string): i32 {
  return backendKindIn(b, 0, b.length);
}

export function isValidBackend(b: string): bool {
  return backendKind(b) != BackendKind.Invalid;
}

/** An address nginx can connect to without resolving anything: IPv4, [IPv6] or unix. */
export function isAddress(b: string): bool {
  const kind = backendKind(b);
  return kind != BackendKind.Invalid && kind != BackendKind.Name;
}
