// Which store holds the routes, from the environment: the embedded LMDB file
// (the default, one machine) or an etcd cluster that many API nodes share, each
// keeping a local LMDB replica. Checked once at start-up like every setting: a
// bad value stops the service with a message naming the variable.
import { readFileSync } from "node:fs";
import { ConfigError } from "./config.ts";

export interface EtcdConfig {
  kind: "etcd";
  /** Client URLs, each http://host:port or https://host:port. */
  endpoints: string[];
  /** Every key the service writes starts with this; ends with "/". */
  prefix: string;
  /** PEM contents, read at start-up so that a missing file is a start-up error. */
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer };
  auth?: { username: string; password: string };
  /** How long one etcd call may take before the write is refused (503). */
  timeoutMs: number;
}

export type StoreConfig = { kind: "lmdb" } | EtcdConfig;

const ENDPOINT = /^(?:(https?):\/\/)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

function readPem(name: string, path: string | undefined): Buffer | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (error) {
    throw new ConfigError(`${name}: cannot read ${JSON.stringify(path)}: ${(error as Error).message}`);
  }
}

function parseEndpoints(value: string | undefined, tls: boolean): string[] {
  if (!value) throw new ConfigError("ETCD_ENDPOINTS: required with ROUTE_STORE=etcd, e.g. http://127.0.0.1:2379,http://127.0.0.1:22379");
  const endpoints = value.split(",").map((part) => part.trim());
  const schemes = new Set<string>();
  const result = endpoints.map((endpoint) => {
    const match = ENDPOINT.exec(endpoint);
    const port = Number(match?.[3]);
    if (!match || port < 1 || port > 65535) {
      throw new ConfigError(`ETCD_ENDPOINTS: expected comma-separated [http(s)://]host:port, got ${JSON.stringify(endpoint)}`);
    }
    const scheme = match[1] ?? (tls ? "https" : "http");
    schemes.add(scheme);
    return `${scheme}://${match[2]}:${port}`;
  });
  if (schemes.size > 1) throw new ConfigError("ETCD_ENDPOINTS: mixes http:// and https://; one cluster speaks one of them");
  if (schemes.has("https") && !tls) throw new ConfigError("ETCD_CA_FILE: required with https:// endpoints (the CA that signed etcd's certificates)");
  if (schemes.has("http") && tls) throw new ConfigError("ETCD_ENDPOINTS: TLS files are set but the endpoints say http://");
  return result;
}

function parsePrefix(value: string | undefined): string {
  const prefix = value ?? "/set-backend/";
  // A prefix not ending in "/" would also cover its siblings' keys
  // (/set-backend covers /set-backend-staging/…).
  if (!/^[\x21-\x7e]+\/$/.test(prefix)) {
    throw new ConfigError(`ETCD_PREFIX: expected printable characters ending with "/", e.g. /set-backend/, got ${JSON.stringify(prefix)}`);
  }
  return prefix;
}

function positiveMs(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new ConfigError(`${name}: expected a positive integer (milliseconds), got ${JSON.stringify(value)}`);
  return n;
}

export function parseStoreConfig(env: NodeJS.ProcessEnv): StoreConfig {
  const kind = env.ROUTE_STORE || "lmdb";
  if (kind === "lmdb") return { kind };
  if (kind !== "etcd") throw new ConfigError(`ROUTE_STORE: expected lmdb or etcd, got ${JSON.stringify(kind)}`);

  const ca = readPem("ETCD_CA_FILE", env.ETCD_CA_FILE);
  const cert = readPem("ETCD_CERT_FILE", env.ETCD_CERT_FILE);
  const key = readPem("ETCD_KEY_FILE", env.ETCD_KEY_FILE);
  if ((cert === undefined) !== (key === undefined)) throw new ConfigError("ETCD_CERT_FILE and ETCD_KEY_FILE: set both (a client certificate and its key) or neither");
  if (cert && !ca) throw new ConfigError("ETCD_CA_FILE: required with a client certificate");
  const tls = ca ? { ca, ...(cert ? { cert, key } : {}) } : undefined;

  const username = env.ETCD_USERNAME || undefined;
  const password = env.ETCD_PASSWORD || undefined;
  if ((username === undefined) !== (password === undefined)) throw new ConfigError("ETCD_USERNAME and ETCD_PASSWORD: set both or neither");

  return {
    kind: "etcd",
    endpoints: parseEndpoints(env.ETCD_ENDPOINTS, tls !== undefined),
    prefix: parsePrefix(env.ETCD_PREFIX),
    ...(tls ? { tls } : {}),
    ...(username && password ? { auth: { username, password } } : {}),
    timeoutMs: positiveMs("ETCD_TIMEOUT_MS", env.ETCD_TIMEOUT_MS, 3000),
  };
}
