// Shape check for a backend received from the route API before it reaches
// `proxy_pass http://$backend$request_uri`.  The API validates fully; this is
// defence in depth against a value that would change the URL's meaning.
// Accepts "unix:/abs/path" or "<host>:<port>" with port 1–65535, where host is
// a name/IPv4 of [A-Za-z0-9.-] or a bracketed IPv6 of [0-9A-Fa-f:.].  Pure code.

import { MAX_BACKEND } from "./entry";

function isNameChar(c: i32): bool {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c == 0x2e || c == 0x2d;
}

function isV6Char(c: i32): bool {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46) || c == 0x3a || c == 0x2e;
}

export function isValidBackend(b: string): bool {
  const n = b.length;
  if (n < 3 || n > MAX_BACKEND) return false;
  if (b.startsWith("unix:/")) {
    for (let i = 5; i < n; i++) {
      const c = b.charCodeAt(i);
      // printable ASCII except space, '?', '#', '%' and '\' (would reshape the URL)
      if (c <= 0x20 || c >= 0x7f || c == 0x3f || c == 0x23 || c == 0x25 || c == 0x5c) return false;
    }
    return true;
  }
  const colon = b.lastIndexOf(":");
  if (colon <= 0 || colon == n - 1 || n - colon - 1 > 5) return false;
  let port: i32 = 0;
  for (let i = colon + 1; i < n; i++) {
    const c = b.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
    port = port * 10 + (c - 0x30);
  }
  if (port < 1 || port > 65535) return false;
  if (b.charCodeAt(0) == 0x5b) {
    if (b.charCodeAt(colon - 1) != 0x5d || colon < 4) return false;
    for (let i = 1; i < colon - 1; i++) if (!isV6Char(b.charCodeAt(i))) return false;
    return true;
  }
  for (let i = 0; i < colon; i++) if (!isNameChar(b.charCodeAt(i))) return false;
  return true;
}
