// Settings from the environment, checked once at start-up: a bad value stops the
// service with a message naming the variable.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { NameOptions } from "./names.ts";
import { parseStoreConfig, type StoreConfig } from "./store-config.ts";

export type Listen = { kind: "tcp"; host: string; port: number } | { kind: "unix"; path: string };

export interface Config {
  stateDir: string;
  domain: string;
  apiListen: Listen;
  resolverListen: Listen;
  /** Group given access to unix sockets (mode 0660); undefined keeps the process's own group. */
  socketGroup: number | undefined;
  apiToken: string | undefined;
  apiTokenFile: string;
  importLimitBytes: number;
  retainChanges: number;
  shutdownGraceMs: number;
  backendNames: NameOptions;
  /** The nginx edge's set_backend_metrics listener (http://127.0.0.1:9145/metrics under make run). */
  edgeMetricsUrl: string | undefined;
  /** ROUTE_STORE and, for etcd, its ETCD_* settings (store-config.ts). */
  store: StoreConfig;
}

export class ConfigError extends Error {}

export function parseListen(name: string, value: string): Listen {
  if (value.startsWith("unix:")) {
    const path = value.slice(5);
    if (!path.startsWith("/")) throw new ConfigError(`${name}: a unix socket path must be absolute (unix:/path)`);
    return { kind: "unix", path };
  }
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port < 0 || port > 65535) throw new ConfigError(`${name}: expected host:port or unix:/path, got ${JSON.stringify(value)}`);
  return { kind: "tcp", host: match[1]!.replace(/^\[|\]$/g, ""), port };
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new ConfigError(`${name}: expected a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

/** The gid of a group by name or number, from /etc/group. */
export function lookupGroup(name: string): number | undefined {
  if (/^\d+$/.test(name)) return Number(name);
  let groups = "";
  try {
    groups = readFileSync("/etc/group", "utf8");
  } catch {
    return undefined;
  }
  for (const line of groups.split("\n")) {
    const [group, , gid] = line.split(":");
    if (group === name && gid !== undefined) return Number(gid);
  }
  return undefined;
}

// nginx workers on Debian run as www-data: when the service runs as root it hands
// the sockets to that group, so that workers can connect and other users cannot.
function socketGroup(env: NodeJS.ProcessEnv): number | undefined {
  const wanted = env.SOCKET_GROUP;
  if (wanted) {
    const gid = lookupGroup(wanted);
    if (gid === undefined) throw new ConfigError(`SOCKET_GROUP: no group named ${JSON.stringify(wanted)}`);
    return gid;
  }
  return process.getuid?.() === 0 ? lookupGroup("www-data") : undefined;
}

function edgeMetricsUrl(value: string | undefined): string | undefined {
  if (value === undefined || value === "") return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`EDGE_METRICS_URL: not a URL: ${JSON.stringify(value)}`);
  }
  if (url.protocol !== "http:") throw new ConfigError(`EDGE_METRICS_URL: expected an http:// URL, got ${JSON.stringify(value)}`);
  return url.href;
}

// How backends given by name are resolved (names.ts).
function backendNames(env: NodeJS.ProcessEnv): NameOptions {
  const maxTtlMs = positiveInt("BACKEND_NAME_MAX_TTL_MS", env.BACKEND_NAME_MAX_TTL_MS, 300_000);
  const ttlMs = positiveInt("BACKEND_NAME_TTL_MS", env.BACKEND_NAME_TTL_MS, 30_000);
  if (ttlMs > maxTtlMs) throw new ConfigError(`BACKEND_NAME_TTL_MS (${ttlMs}) must not exceed BACKEND_NAME_MAX_TTL_MS (${maxTtlMs})`);
  const stale = env.BACKEND_NAME_STALE_MS;
  const hostsFile = env.BACKEND_HOSTS_FILE;
  if (hostsFile !== undefined && hostsFile !== "" && !hostsFile.startsWith("/")) {
    throw new ConfigError(`BACKEND_HOSTS_FILE: expected an absolute path, got ${JSON.stringify(hostsFile)}`);
  }
  return {
    ttlMs,
    maxTtlMs,
    // 0 is allowed here: no stale addresses at all.
    staleMs: stale === "0" ? 0 : positiveInt("BACKEND_NAME_STALE_MS", stale, 3_600_000),
    failureTtlMs: positiveInt("BACKEND_NAME_FAILURE_TTL_MS", env.BACKEND_NAME_FAILURE_TTL_MS, 5_000),
    hostsFile: hostsFile || undefined,
  };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const stateDir = resolve(env.STATE_DIR || "./.run");
  return {
    stateDir,
    domain: env.DOMAIN || "localhost",
    apiListen: parseListen("API_LISTEN", env.API_LISTEN || "127.0.0.1:9000"),
    resolverListen: parseListen("RESOLVER_LISTEN", env.RESOLVER_LISTEN || `unix:${stateDir}/resolver.sock`),
    socketGroup: socketGroup(env),
    apiToken: env.API_TOKEN || undefined,
    apiTokenFile: resolve(env.API_TOKEN_FILE || `${stateDir}/api-token`),
    importLimitBytes: positiveInt("IMPORT_LIMIT_BYTES", env.IMPORT_LIMIT_BYTES, 64 * 1024 * 1024),
    retainChanges: positiveInt("CHANGES_RETAIN", env.CHANGES_RETAIN, 10_000),
    shutdownGraceMs: positiveInt("SHUTDOWN_GRACE_MS", env.SHUTDOWN_GRACE_MS, 10_000),
    backendNames: backendNames(env),
    edgeMetricsUrl: edgeMetricsUrl(env.EDGE_METRICS_URL),
    store: parseStoreConfig(env),
  };
}
