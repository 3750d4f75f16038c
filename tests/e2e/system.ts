// The whole system for end-to-end tests: the real route API process, Debian's
// nginx with the module and the resolver filter, configured from the same
// template as `make run`, and backend HTTP servers — all on loopback.
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ExecutionContext } from "ava";
import { socketPathOf, startService, type ServiceProcess } from "../../api/test/fixtures/service-process.ts";
import { defaultFilter, defaultModule, writeNginxConf } from "../../scripts/nginx-conf.ts";
import { freePort } from "../nginx/harness.ts";

export const TOKEN = "e2e-token-0123456789abcdef";
export const DOMAIN = "localhost";
export const API_HOST = `api.${DOMAIN}`;

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json(): any;
}

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

export function send(
  port: number,
  host: string,
  path = "/",
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path, method: init.method ?? "GET", headers: { Host: host, ...init.headers }, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) }));
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
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

function waitUntil(check: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = async () => {
      if (await check().catch(() => false)) return resolve();
      if (Date.now() > until) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(attempt, 50);
    };
    attempt();
  });
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
  let nginx: ChildProcess | undefined;
  let output = "";

  const system: System = {
    stateDir,
    port,
    get api() {
      return api;
    },
    nginxOutput: () => output + readIfExists(join(stateDir, "access.log")),
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
      if (!nginx || nginx.exitCode !== null) return;
      const exited = new Promise((r) => nginx!.once("exit", r));
      // TERM: fast shutdown. (QUIT waits for the filter's change-feed long-poll to end.)
      nginx.kill("SIGTERM");
      await exited;
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
      nginx = spawn("/usr/sbin/nginx", args, { stdio: ["ignore", "pipe", "pipe"] });
      nginx.stdout!.on("data", (d: Buffer) => (output += d));
      nginx.stderr!.on("data", (d: Buffer) => (output += d));
      const started = nginx;
      try {
        await waitUntil(async () => started.exitCode === null && (await send(port, API_HOST, "/healthz")).status === 200, "nginx to answer");
      } catch (error) {
        throw new Error(`${(error as Error).message} (nginx ${started.exitCode === null ? "running" : `exited ${started.exitCode}`}):\n${output}`);
      }
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

/** Polls `check` until it holds; returns the milliseconds it took (reported, never asserted). */
export async function eventually(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<number> {
  const started = Date.now();
  await waitUntil(check, what, ms);
  return Date.now() - started;
}
