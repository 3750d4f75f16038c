// The whole system for end-to-end tests: the real route API process, Debian's
// nginx with the module and the resolver filter, configured from the same
// template as `make run`, and backend HTTP servers — all on loopback.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ExecutionContext } from "ava";
import { socketPathOf, startService, type ServiceProcess } from "../../api/test/fixtures/service-process.ts";
import { defaultFilter, defaultModule, writeNginxConf } from "../../scripts/nginx-conf.ts";
import { freePort, send, type Reply } from "../lib/net.ts";
import { spawnNginx, type NginxProcess } from "../lib/nginx.ts";

// The helpers every suite shares (tests/lib/), for the e2e tests.
export { send, type Reply } from "../lib/net.ts";
export { until } from "../lib/wait.ts";

export const TOKEN = "e2e-token-0123456789abcdef";
export const DOMAIN = "localhost";
export const API_HOST = `api.${DOMAIN}`;

export interface System {
  stateDir: string;
  port: number;
  api: ServiceProcess;
  /** nginx's stdout and stderr (access log and error log), as captured so far. */
  nginxOutput(): string;
  /** A request through nginx with this Host. */
  request(host: string, path?: string, init?: { method?: string; headers?: Record<string, string>; body?: string }): Promise<Reply>;
  /** A management call to api.$DOMAIN through nginx, with the token unless `auth: false`. */
  manage(method: string, path: string, body?: unknown, auth?: boolean): Promise<Reply>;
  stopApi(): Promise<void>;
  startApi(): Promise<void>;
  stopNginx(): Promise<void>;
  startNginx(): Promise<void>;
}

export function requireBuilt(): void {
  for (const file of [defaultModule, defaultFilter]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`make build\` first`);
  }
}

/** Sends raw bytes (for Host headers no HTTP client would send) and returns the status line's code and the rest. */
export function sendRaw(port: number, request: string | Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (c) => chunks.push(c));
    socket.on("end", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      resolve({ status: Number(/^HTTP\/1\.\d (\d{3})/.exec(text)?.[1] ?? 0), text });
    });
    socket.on("error", reject);
    socket.end(request);
  });
}

function readIfExists(path: string): string {
  return existsSync(path) ? readFileSync(path, "latin1") : "";
}

export interface SystemOptions {
  backendTimeout?: string;
  /** nginx with the seed's `proxy_pass http://$backend$request_uri` instead of the balancer. */
  seedProxyPass?: boolean;
  /** More environment for the route API, e.g. BACKEND_HOSTS_FILE. */
  apiEnv?: Record<string, string>;
}

export async function startSystem(t: ExecutionContext, options: SystemOptions = {}): Promise<System> {
  requireBuilt();
  const stateDir = mkdtempSync(join(tmpdir(), "set-backend-e2e-"));
  // nginx's workers (www-data) must reach the API's socket in here.
  chmodSync(stateDir, 0o755);
  const port = await freePort();
  const apiPort = await freePort();
  const metricsPort = await freePort();
  const apiOptions = { stateDir, token: TOKEN, env: { API_LISTEN: `127.0.0.1:${apiPort}`, DOMAIN, EDGE_METRICS_URL: `http://127.0.0.1:${metricsPort}/metrics`, ...options.apiEnv }, inheritEnv: true };
  let api = await startService(apiOptions);
  let nginx: NginxProcess | undefined;
  // What earlier nginx processes of this system wrote (a test may stop and start nginx).
  let earlierOutput = "";

  const system: System = {
    stateDir,
    port,
    get api() {
      return api;
    },
    nginxOutput: () => earlierOutput + (nginx?.output() ?? "") + readIfExists(join(stateDir, "access.log")),
    request: (host, path, init) => send(port, host, path, init),
    manage(method, path, body, auth = true) {
      const headers: Record<string, string> = auth ? { Authorization: `Bearer ${TOKEN}` } : {};
      if (body !== undefined) headers["Content-Type"] = "application/json";
      return send(port, API_HOST, path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    },
    async stopApi() {
      await api.stop();
    },
    async startApi() {
      api = await startService(apiOptions);
    },
    async stopNginx() {
      await nginx?.stop();
    },
    async startNginx() {
      const args = writeNginxConf({
        stateDir,
        listen: `127.0.0.1:${port}`,
        metricsPort,
        domain: DOMAIN,
        apiListen: `127.0.0.1:${apiPort}`,
        resolverSocket: socketPathOf(api.internal),
        accessLog: join(stateDir, "access.log"),
        backendTimeout: options.backendTimeout,
        seedProxyPass: options.seedProxyPass,
      });
      earlierOutput += nginx?.output() ?? "";
      nginx = await spawnNginx({ args, ready: async () => (await send(port, API_HOST, "/healthz")).status === 200, readyMs: 20_000 });
    },
  };
  t.teardown(async () => {
    await system.stopNginx();
    await api.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });
  await system.startNginx();
  return system;
}

export interface EchoBackend {
  name: string;
  port: number;
  address: string;
  requests: number;
  close(): Promise<void>;
}

/** A backend that answers with a JSON account of the request it received. */
export async function startEchoBackend(t: ExecutionContext, name: string): Promise<EchoBackend> {
  const backend = { name, port: 0, address: "", requests: 0, close: async () => {} };
  const server = http.createServer((req, res) => {
    backend.requests++;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      res.setHeader("Content-Type", "application/json");
      res.setHeader("X-Backend", name);
      res.end(JSON.stringify({ name, method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  backend.port = (server.address() as net.AddressInfo).port;
  backend.address = `127.0.0.1:${backend.port}`;
  backend.close = () => new Promise((r) => (server.closeAllConnections(), server.close(() => r())));
  t.teardown(() => backend.close());
  return backend;
}
