// One edge of a fleet for tests and benchmarks: the real route API process in
// etcd mode (its LMDB replica in its own state directory) and Debian's nginx
// with the module and the filter, configured from the same template as
// `make run` and `make fleet`. All on loopback.
import { chmodSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request, socketPathOf, startService, type Response, type ServiceProcess } from "../../api/test/fixtures/service-process.ts";
import { defaultFilter, defaultModule, writeNginxConf } from "../../scripts/nginx-conf.ts";
import { freePort, send, type Reply } from "./net.ts";
import { spawnNginx, type NginxProcess } from "./nginx.ts";
import { until as pollUntil } from "./wait.ts";

export const TOKEN = "fleet-token-0123456789abcdef";
export const DOMAIN = "localhost";

/** Fails clearly when the nginx module or the filter has not been built. */
export function requireBuilt(): void {
  for (const file of [defaultModule, defaultFilter]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`make build\` first`);
  }
}

export interface EdgeOptions {
  name: string;
  /** ETCD_ENDPOINTS for this edge's route API. */
  endpoints: string;
  /** ROUTE_STORE (default etcd); lmdb makes a single-machine edge to compare with. */
  store?: "etcd" | "lmdb";
  /** Extra environment for the route API. */
  env?: Record<string, string>;
  /** Keep the API's log lines in `api.logs` (default true; benchmarks turn it off). */
  keepLogs?: boolean;
  /** Start nginx too (default true); benchmarks of the API alone skip it. */
  nginx?: boolean;
}

export interface Edge {
  name: string;
  stateDir: string;
  port: number;
  api: ServiceProcess;
  /** A request through this edge's nginx with this Host. */
  route(host: string, path?: string): Promise<Reply>;
  /** A management call to this edge's route API (public listener), with the token. */
  manage(method: string, path: string, body?: unknown, contentType?: string): Promise<Response>;
  /** GET on the internal listener (what nginx's filter asks). */
  internal(path: string): Promise<Response>;
  health(): Promise<any>;
  stopApi(): Promise<void>;
  startApi(): Promise<void>;
  stop(): Promise<void>;
  output(): string;
}

export async function startEdge(options: EdgeOptions): Promise<Edge> {
  const stateDir = mkdtempSync(join(tmpdir(), `set-backend-${options.name}-`));
  chmodSync(stateDir, 0o755);
  const port = await freePort();
  const apiPort = await freePort();
  const metricsPort = await freePort();
  const apiOptions = {
    stateDir,
    token: TOKEN,
    inheritEnv: true,
    env: {
      API_LISTEN: `127.0.0.1:${apiPort}`,
      DOMAIN,
      ROUTE_STORE: options.store ?? "etcd",
      ETCD_ENDPOINTS: options.endpoints,
      // Above the test cluster's election timeout (scripts/etcd-members.ts):
      // a write during a leader election waits for the new leader.
      ETCD_TIMEOUT_MS: "6000",
      ...options.env,
    },
    readyTimeoutMs: 60_000,
    // Tests check what the replica logged (a resync, its reason).
    keepLogs: options.keepLogs ?? true,
  };
  let api = await startService(apiOptions);
  let nginx: NginxProcess | undefined;

  const edge: Edge = {
    name: options.name,
    stateDir,
    port,
    get api() {
      return api;
    },
    route: (host, path) => send(port, host, path),
    manage(method, path, body, contentType = "application/json") {
      const headers: Record<string, string> = { Authorization: `Bearer ${TOKEN}` };
      if (body !== undefined) headers["Content-Type"] = contentType;
      const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
      return request(api.public, method, path, { headers, body: payload });
    },
    internal: (path) => request(api.internal, "GET", path),
    async health() {
      return JSON.parse((await request(api.public, "GET", "/healthz")).body);
    },
    async stopApi() {
      await api.stop();
    },
    async startApi() {
      api = await startService(apiOptions);
    },
    async stop() {
      await nginx?.stop();
      await api.kill();
      rmSync(stateDir, { recursive: true, force: true });
    },
    output: () => `${api.recentOutput()}\n${nginx?.output() ?? ""}`,
  };

  if (options.nginx !== false) {
    const args = writeNginxConf({
      stateDir,
      listen: `127.0.0.1:${port}`,
      metricsPort,
      domain: DOMAIN,
      // Where the API listens (at a quiet LOG_LEVEL the service helper picks the port itself).
      apiListen: "host" in api.public ? `${api.public.host}:${api.public.port}` : `127.0.0.1:${apiPort}`,
      resolverSocket: socketPathOf(api.internal),
      accessLog: join(stateDir, "access.log"),
    });
    try {
      nginx = await spawnNginx({ args, ready: async () => (await send(port, `api.${DOMAIN}`, "/healthz")).status === 200 });
    } catch (error) {
      await edge.stop();
      throw new Error(`nginx of ${options.name} did not answer: ${(error as Error).message}`);
    }
  }
  return edge;
}

/** `until` (tests/lib/wait.ts) with the fleet's patience: etcd may be electing a leader. */
export function until(check: () => Promise<boolean> | boolean, what: string, ms = 30_000): Promise<number> {
  return pollUntil(check, what, ms);
}

/** The backend an edge's nginx routes `host` to, from the echo of a backend (see startEchoBackend), or the status. */
export async function routedTo(edge: Edge, host: string): Promise<string> {
  const reply = await edge.route(host);
  if (reply.status !== 200) return `status ${reply.status}`;
  return String(reply.headers["x-backend"]);
}
