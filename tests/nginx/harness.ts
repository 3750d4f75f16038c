// Starts Debian's real nginx (/usr/sbin/nginx) with this project's module in a
// temporary prefix, on 127.0.0.1 ports, plus the small Node servers the tests route
// to. Helpers only; the tests are in *.test.ts beside this file.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import binaryen from "binaryen";
import { contractViolation } from "../lib/internal-contract.ts";
import { canConnect, request, type Reply } from "../lib/net.ts";
import { NGINX, spawnNginx } from "../lib/nginx.ts";
import { until } from "../lib/wait.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
export const MODULE = process.env.SET_BACKEND_MODULE ?? join(root, "build/modules/ngx_http_set_backend.so");

export function requireModule(): void {
  if (!existsSync(MODULE)) {
    throw new Error(`${MODULE} is missing: build it with make build (scripts/build-native.sh)`);
  }
}

/** A temporary directory removed by `cleanup`. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "set-backend-nginx-"));
  // nginx workers run as "nobody" when the tests run as root; they must reach the
  // unix sockets and files in here.
  chmodSync(dir, 0o755);
  return dir;
}

/** The test filter (fixtures/test-filter.wat) assembled to wasm in `dir`. */
export function testFilter(dir: string): string {
  const wat = readFileSync(join(root, "tests/nginx/fixtures/test-filter.wat"), "utf8");
  const mod = binaryen.parseText(wat);
  if (!mod.validate()) throw new Error("test-filter.wat does not validate");
  const path = join(dir, "test-filter.wasm");
  writeFileSync(path, mod.emitBinary());
  mod.dispose();
  return path;
}

// The helpers every suite shares (tests/lib/), for the nginx tests.
export { freePort, request, type Reply } from "../lib/net.ts";
export { until } from "../lib/wait.ts";
export { NGINX } from "../lib/nginx.ts";

/** nginx.conf around `http` (the body of the http{} block). */
export function config(dir: string, httpBody: string, opts: { workers?: number } = {}): string {
  const user = process.getuid?.() === 0 ? "user root root;" : "";
  return `load_module ${MODULE};
${user}
worker_processes ${opts.workers ?? 1};
error_log ${dir}/error.log info;
pid ${dir}/nginx.pid;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp_body;
  proxy_temp_path ${dir}/tmp_proxy;
${httpBody}
}
`;
}

/** `nginx -t` on a configuration; returns its exit status and what it printed. */
export function nginxTest(dir: string, conf: string): { status: number; output: string } {
  const file = join(dir, "test.conf");
  writeFileSync(file, conf);
  const r = spawnSync(NGINX, ["-t", "-p", dir, "-c", file], { encoding: "utf8" });
  return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

export interface Nginx {
  dir: string;
  reload(): Promise<void>;
  errorLog(): string;
  /** Pids of the current worker processes. */
  workers(): number[];
  stop(): Promise<void>;
}

function workerPids(masterPid: number): number[] {
  const r = spawnSync("pgrep", ["-P", String(masterPid)], { encoding: "utf8" });
  return r.stdout.split("\n").filter(Boolean).map(Number);
}

/** Starts nginx in the foreground (killed by `stop`) and waits until `port` accepts. */
export async function startNginx(dir: string, conf: string, port: number): Promise<Nginx> {
  const file = join(dir, "nginx.conf");
  writeFileSync(file, conf);
  const nginx = await spawnNginx({
    args: ["-p", dir, "-c", file, "-g", "daemon off; master_process on;"],
    ready: () => canConnect(port),
    readyMs: 10_000,
    explain: () => readLog(dir),
  });
  const master = nginx.child.pid!;
  return {
    dir,
    errorLog: () => readLog(dir),
    workers: () => workerPids(master),
    async reload() {
      const before = workerPids(master);
      const r = spawnSync(NGINX, ["-p", dir, "-c", file, "-s", "reload"], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`reload failed: ${r.stderr}`);
      // New workers exist once none of the old ones is among the master's children.
      await until(() => {
        const now = workerPids(master);
        return now.length > 0 && now.every((p) => !before.includes(p));
      }, "new workers after reload");
    },
    stop: () => nginx.stop(),
  };
}

function readLog(dir: string): string {
  try {
    return readFileSync(join(dir, "error.log"), "utf8");
  } catch {
    return "";
  }
}

/** A backend that answers with what it saw; it records each request's client port. */
export interface Backend {
  port: number;
  seen: { url: string; host: string; remotePort: number }[];
  close(): Promise<void>;
}

export async function startBackend(): Promise<Backend> {
  const seen: Backend["seen"] = [];
  const server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? "", host: req.headers.host ?? "", remotePort: req.socket.remotePort ?? 0 });
    res.setHeader("x-backend-url", req.url ?? "");
    res.end(`backend ${req.url}`);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address();
  if (typeof a !== "object" || !a) throw new Error("backend did not listen");
  return {
    port: a.port,
    seen,
    close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

/** The route API stand-in on a unix socket: /backend answers `answer`; counts paths. */
export interface Api {
  socket: string;
  hits: Map<string, number>;
  /** Connections accepted so far (calls on kept-alive connections do not add any). */
  connections(): number;
  close(): Promise<void>;
}

export async function startApi(dir: string, answer: () => string): Promise<Api> {
  const socket = join(dir, "api.sock");
  const hits = new Map<string, number>();
  const server = http.createServer((req, res) => {
    hits.set(req.url ?? "", (hits.get(req.url ?? "") ?? 0) + 1);
    res.end(answer());
  });
  let connections = 0;
  server.on("connection", () => connections++);
  await new Promise<void>((r) => server.listen(socket, r));
  chmodSync(socket, 0o666);
  return { socket, hits, connections: () => connections, close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))) };
}

/** What a route API stand-in answers to one call. */
export interface Answer {
  status: number;
  body: string;
}

/**
 * A stand-in for the route API's internal listener (`/resolve`, `/changes`) on a
 * unix socket, for tests that need answers the real API cannot be made to give
 * (a slow one, a failing one). Every answer is checked against the internal API's
 * contract before it is sent: one the real API could not give is replaced by a 500
 * and recorded in `violations`, which the test checks is empty after each test,
 * so the filter is never tested against a made-up API.
 */
export interface RouteApiStandIn {
  socket: string;
  violations: string[];
  close(): Promise<void>;
}

export async function startRouteApiStandIn(
  dir: string,
  answer: (path: string) => Answer | Promise<Answer>,
): Promise<RouteApiStandIn> {
  const socket = join(dir, "route-api.sock");
  const violations: string[] = [];
  const server = http.createServer(async (req, res) => {
    const path = req.url ?? "";
    const { status, body } = await answer(path);
    const violation = contractViolation(path, status, body);
    if (violation !== undefined) {
      violations.push(violation);
      res.statusCode = 500;
      res.end(`the test's answer breaks the internal API contract: ${violation}`);
      return;
    }
    res.statusCode = status;
    res.setHeader("content-type", "application/json");
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(socket, r));
  chmodSync(socket, 0o666);
  return {
    socket,
    violations,
    close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

/** One GET to nginx. `agent` false opens a new connection. */
export function get(port: number, path: string, headers: Record<string, string> = {}, agent: http.Agent | false = false): Promise<Reply> {
  return request(port, path, { headers, agent });
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
