// Backend validation. A backend is spliced verbatim into
// `proxy_pass http://$backend$request_uri` and handed to the balancer, so this
// check is a security boundary: only the forms below get through, and nothing
// that could add a scheme, a path, a query, userinfo or a second directive.
import { isIPv4, isIPv6 } from "node:net";
import { isDnsName } from "./hosts.ts";

// sun_path holds 108 bytes including the terminating NUL.
const MAX_UNIX_PATH = 107;
const UNIX_PATH = /^\/[A-Za-z0-9._\-/]*$/;
const PORT = /^[1-9][0-9]{0,4}$/;
const IPV4_STRICT = /^(?:0|[1-9][0-9]{0,2})(?:\.(?:0|[1-9][0-9]{0,2})){3}$/;

export class BackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BackendError";
  }
}

const FORMS = "expected host:port (a DNS name, an IPv4 address or [IPv6], port 1-65535) or unix:/absolute/path";

function checkPort(port: string): void {
  if (!PORT.test(port) || Number(port) > 65535) {
    throw new BackendError(`port ${JSON.stringify(port)} is not a number from 1 to 65535`);
  }
}

function checkUnixPath(path: string): void {
  if (!path.startsWith("/")) throw new BackendError("a unix socket path must be absolute: unix:/path/to.sock");
  if (path.length > MAX_UNIX_PATH) throw new BackendError(`a unix socket path is at most ${MAX_UNIX_PATH} bytes`);
  if (!UNIX_PATH.test(path)) {
    throw new BackendError("a unix socket path may contain only letters, digits, '.', '_', '-' and '/'");
  }
  if (path.endsWith("/")) throw new BackendError("a unix socket path must name a file, not a directory");
}

/** Returns the backend in its stored form (hosts lowercased) or throws BackendError. */
export function normalizeBackend(input: unknown): string {
  if (typeof input !== "string") throw new BackendError(`backend must be a string: ${FORMS}`);
  if (input.length === 0) throw new BackendError(`backend is empty: ${FORMS}`);
  if (input.length > 512) throw new BackendError("backend is longer than 512 characters");
  if (/[\u0000-\u0020\u007f-\uffff]/.test(input)) {
    throw new BackendError("backend contains whitespace, a control character or a non-ASCII character");
  }
  if (input.startsWith("unix:")) {
    const path = input.slice("unix:".length);
    checkUnixPath(path);
    return input;
  }
  if (input.includes("://")) throw new BackendError(`backend must not include a scheme: ${FORMS}`);
  if (/[/?#@\\]/.test(input)) throw new BackendError(`backend must not include a path, query, fragment or userinfo: ${FORMS}`);

  if (input.startsWith("[")) {
    const close = input.indexOf("]");
    if (close === -1 || input[close + 1] !== ":") throw new BackendError(`an IPv6 backend is written [address]:port`);
    const address = input.slice(1, close);
    // Only hex digits, ':' and '.': zone ids (fe80::1%eth0) mean nothing to another host.
    if (!/^[0-9a-fA-F:.]+$/.test(address) || !isIPv6(address)) throw new BackendError(`${JSON.stringify(address)} is not an IPv6 address`);
    checkPort(input.slice(close + 2));
    return input.toLowerCase();
  }

  const colon = input.lastIndexOf(":");
  if (colon === -1) throw new BackendError(`backend has no port: ${FORMS}`);
  const host = input.slice(0, colon).toLowerCase();
  checkPort(input.slice(colon + 1));
  if (host.includes(":")) throw new BackendError("an IPv6 backend must be written in brackets: [address]:port");
  if (/^[0-9.]+$/.test(host)) {
    if (!isIPv4(host) || !IPV4_STRICT.test(host)) throw new BackendError(`${JSON.stringify(host)} is not an IPv4 address`);
    return `${host}:${input.slice(colon + 1)}`;
  }
  if (!isDnsName(host)) throw new BackendError(`${JSON.stringify(host)} is not a DNS name or an IP address`);
  return `${host}:${input.slice(colon + 1)}`;
}

export type BackendParts =
  | { kind: "unix"; path: string }
  | { kind: "ip"; host: string; port: number }
  | { kind: "name"; host: string; port: number };

/** The parts of a backend in its stored form (already normalized): where to connect, and whether a name must be resolved first. */
export function backendParts(backend: string): BackendParts {
  if (backend.startsWith("unix:")) return { kind: "unix", path: backend.slice("unix:".length) };
  const colon = backend.lastIndexOf(":");
  const port = Number(backend.slice(colon + 1));
  const host = backend.slice(0, colon);
  if (host.startsWith("[")) return { kind: "ip", host: host.slice(1, -1), port };
  return { kind: isIPv4(host) ? "ip" : "name", host, port };
}
