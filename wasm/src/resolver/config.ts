// Plugin configuration: a JSON object; every key optional, unknown keys and
// out-of-range values refused (a typo must not silently fall back to a default).
// Pure code: the root context logs `error` and fails on_configure.

import { parseJson, JsonKind, JsonValue } from "./json";
import { DEFAULT_NOT_FOUND_PAGE, DEFAULT_UNAVAILABLE_PAGE } from "./pages";
import { decimal } from "../util/decimal";

export const MAX_CONFIG_BYTES: i32 = 256 * 1024;
const MAX_PAGE_BYTES: i32 = 64 * 1024;

export class ResolverConfig {
  /** nginx cluster (proxy_http_call upstream) serving /resolve and /changes. */
  resolverCluster: string = "route_api";
  /** :authority sent with callouts. */
  resolverAuthority: string = "route-api.internal";
  positiveTtlMs: u32 = 30_000;
  /**
   * Time to live of a route cached while the change feed is healthy (the feed
   * invalidates it when the route changes): a safety net, so it can be long.
   * The larger of this and positive_ttl_ms applies.
   */
  feedTtlMs: u32 = 21_600_000;
  negativeTtlMs: u32 = 2_000;
  /** How long a failed lookup's outcome (stale backend or 503) stands before the API is asked again. */
  errorTtlMs: u32 = 2_000;
  /** Oldest answer still served while the API fails (stale-if-error); 0 disables. */
  maxStaleMs: u32 = 86_400_000;
  calloutTimeoutMs: u32 = 1_000;
  /** `wait` passed to /changes (long-poll); the poll's callout timeout is this + calloutTimeoutMs. */
  pollWaitMs: u32 = 25_000;
  /** Pause before polling again after a failed /changes call. */
  pollRetryMs: u32 = 1_000;
  leaseTtlMs: u32 = 3_000;
  tickMs: u32 = 100;
  /** Distinct hosts with a /resolve callout in flight, per worker; beyond it, stale or 503. */
  maxPendingHosts: u32 = 512;
  notFoundPage: string = DEFAULT_NOT_FOUND_PAGE;
  unavailablePage: string = DEFAULT_UNAVAILABLE_PAGE;
}

export class ConfigResult {
  constructor(public config: ResolverConfig | null, public error: string) {}
}

function bad(error: string): ConfigResult {
  return new ConfigResult(null, error);
}

function intIn(v: JsonValue, lo: u32, hi: u32): bool {
  return v.kind == JsonKind.Number && v.isInteger && v.num >= <f64>lo && v.num <= <f64>hi;
}

const CLUSTER_MAX: i32 = 255;

function validName(s: string): bool {
  if (s.length < 1 || s.length > CLUSTER_MAX) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

// Integer settings: name, accepted range, and where each lands (setInt).
// INT_MIN and INT_MAX are read unchecked: one entry per INT_KEYS entry
// (config.spec.ts checks the lengths).  Exported for that test only.
export const INT_KEYS: Array<string> = [
  "positive_ttl_ms", "negative_ttl_ms", "error_ttl_ms", "max_stale_ms", "callout_timeout_ms",
  "poll_wait_ms", "poll_retry_ms", "lease_ttl_ms", "tick_ms", "max_pending_hosts", "feed_ttl_ms",
];
const DAY_MS: u32 = 86_400_000;
export const INT_MIN: StaticArray<u32> = [1, 1, 1, 0, 1, 0, 1, 100, 10, 1, 1];
export const INT_MAX: StaticArray<u32> = [DAY_MS, DAY_MS, DAY_MS, DAY_MS, 60_000, 300_000, 60_000, 600_000, 10_000, 1_000_000, 7 * DAY_MS];

function setInt(c: ResolverConfig, k: i32, n: u32): void {
  switch (k) {
    case 0: c.positiveTtlMs = n; break;
    case 1: c.negativeTtlMs = n; break;
    case 2: c.errorTtlMs = n; break;
    case 3: c.maxStaleMs = n; break;
    case 4: c.calloutTimeoutMs = n; break;
    case 5: c.pollWaitMs = n; break;
    case 6: c.pollRetryMs = n; break;
    case 7: c.leaseTtlMs = n; break;
    case 8: c.tickMs = n; break;
    case 9: c.maxPendingHosts = n; break;
    default: c.feedTtlMs = n;
  }
}

/** Parses the plugin configuration.  Empty input means all defaults. */
export function parseConfig(bytes: Uint8Array): ConfigResult {
  const c = new ResolverConfig();
  let empty = true;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b != 0x20 && b != 0x09 && b != 0x0a && b != 0x0d) { empty = false; break; }
  }
  if (empty) return new ConfigResult(c, "");
  if (bytes.length > MAX_CONFIG_BYTES) return bad("configuration is larger than " + decimal(MAX_CONFIG_BYTES) + " bytes");
  const parsed = parseJson(bytes);
  const root = parsed.value;
  if (root === null) return bad("configuration is not valid JSON: " + parsed.error);
  if (root.kind != JsonKind.Object) return bad("configuration must be a JSON object");
  for (let i = 0; i < root.keys.length; i++) {
    const key = unchecked(root.keys[i]); // keys and items have the same length
    const v = unchecked(root.items[i]);
    if (key == "resolver_cluster" || key == "resolver_authority") {
      if (v.kind != JsonKind.String || !validName(v.str)) return bad(key + " must be 1-255 printable ASCII characters, no spaces");
      if (key == "resolver_cluster") c.resolverCluster = v.str; else c.resolverAuthority = v.str;
    } else if (key == "not_found_page" || key == "unavailable_page") {
      if (v.kind != JsonKind.String || v.str.length == 0 || String.UTF8.byteLength(v.str) > MAX_PAGE_BYTES) {
        return bad(key + " must be a non-empty string of at most " + decimal(MAX_PAGE_BYTES) + " bytes");
      }
      if (key == "not_found_page") c.notFoundPage = v.str; else c.unavailablePage = v.str;
    } else {
      const k = INT_KEYS.indexOf(key);
      if (k < 0) return bad("unknown key \"" + key + "\"");
      const lo = unchecked(INT_MIN[k]);
      const hi = unchecked(INT_MAX[k]);
      if (!intIn(v, lo, hi)) return bad(key + " must be an integer from " + decimal(lo) + " to " + decimal(hi));
      setInt(c, k, <u32>v.num);
    }
  }
  // A lease renewed every tick must outlive a few missed ticks.
  if (c.leaseTtlMs < c.tickMs * 3) {
    return bad("lease_ttl_ms (" + decimal(c.leaseTtlMs) + ") must be at least 3 × tick_ms (" + decimal(c.tickMs) + ")");
  }
  return new ConfigResult(c, "");
}

export function parseConfigString(text: string): ConfigResult {
  return parseConfig(Uint8Array.wrap(String.UTF8.encode(text)));
}
