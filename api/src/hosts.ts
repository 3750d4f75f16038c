// Host names: the one definition of how a client's Host and a route's host are
// normalized and matched. The resolver filter (wasm/) implements the same rules;
// both are checked against tests/vectors/hosts.json.
import { domainToASCII } from "node:url";

export const MAX_HOST_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;
// Longer input is refused before any work is spent on it.
const MAX_INPUT_LENGTH = 1024;

const LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const ASCII_ALLOWED = /^[a-z0-9.-]$/;
const PORT_SUFFIX = /:(\d{1,5})$/;

export class HostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HostError";
  }
}

/** A DNS name per RFC 1123: labels of 1–63 chars of a-z, 0-9 and '-', not at either end; 253 chars in all. */
export function isDnsName(name: string): boolean {
  if (name.length === 0 || name.length > MAX_HOST_LENGTH) return false;
  return name.split(".").every((label) => label.length <= MAX_LABEL_LENGTH && LABEL.test(label));
}

/**
 * Turns a name as a person or a client wrote it into its stored form: lowercase,
 * one trailing dot dropped, IDN labels in punycode. Throws HostError for anything
 * that is not a DNS name.
 */
function canonicalName(input: string): string {
  let name = input;
  if (name.endsWith(".")) name = name.slice(0, -1);
  let hasUnicode = false;
  for (const ch of name) {
    const code = ch.codePointAt(0)!;
    if (code < 0x20 || code === 0x7f) throw new HostError("host contains a control character");
    if (code >= 0x80) {
      hasUnicode = true;
      continue;
    }
    const lower = ch.toLowerCase();
    if (!ASCII_ALLOWED.test(lower)) {
      throw new HostError(`host contains ${JSON.stringify(ch)}, which is not allowed in a DNS name`);
    }
  }
  name = name.toLowerCase();
  if (hasUnicode) {
    const ascii = domainToASCII(name);
    if (ascii === "") throw new HostError("host is not a valid internationalized domain name");
    name = ascii;
  }
  if (!isDnsName(name)) {
    throw new HostError(
      "host is not a DNS name (labels of 1-63 letters, digits or '-', not starting or ending with '-', 253 characters in all)",
    );
  }
  return name;
}

function checkInput(input: unknown): string {
  if (typeof input !== "string") throw new HostError("host must be a string");
  if (input.length === 0) throw new HostError("host is empty");
  if (input.length > MAX_INPUT_LENGTH) throw new HostError("host is too long");
  return input;
}

/**
 * Normalizes a client's Host header (or :authority) for lookup: what
 * `GET /resolve/<host>` and the filter do before matching. A `:port` is dropped.
 */
export function normalizeRequestHost(input: unknown): string {
  let host = checkInput(input);
  const port = PORT_SUFFIX.exec(host);
  if (port) host = host.slice(0, port.index);
  return canonicalName(host);
}

/**
 * Normalizes a route's host as given to the management API: a DNS name,
 * `*.` followed by one, or the catch-all `*`. Ports are not part of a route.
 */
export function normalizeRouteHost(input: unknown): string {
  const host = checkInput(input);
  if (host === "*") return "*";
  if (PORT_SUFFIX.test(host)) throw new HostError("host must not include a port");
  if (host.startsWith("*.")) return "*." + canonicalName(host.slice(2));
  if (host.includes("*")) throw new HostError("a wildcard is only allowed as the whole first label ('*.example.com') or alone ('*')");
  return canonicalName(host);
}

export type MatchKind = "exact" | "wildcard" | "default";

/**
 * The patterns that may serve a normalized host, most specific first:
 * the host itself, `*.<suffix>` from the longest suffix to the shortest, then `*`.
 */
export function* candidatePatterns(host: string): Generator<{ pattern: string; match: MatchKind }> {
  yield { pattern: host, match: "exact" };
  let dot = host.indexOf(".");
  while (dot !== -1) {
    yield { pattern: "*" + host.slice(dot), match: "wildcard" };
    dot = host.indexOf(".", dot + 1);
  }
  yield { pattern: "*", match: "default" };
}
