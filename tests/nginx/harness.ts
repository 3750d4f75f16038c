// Starts Debian's real nginx (/usr/sbin/nginx) with this project's module in a
// temporary prefix, on 127.0.0.1 ports, plus the small Node servers the tests route
// to. Helpers only; the tests are in *.test.ts beside this file.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import binaryen from "binaryen";

const root = fileURLToPath(new URL("../..", import.meta.url));
export const NGINX = process.env.NGINX_BIN ?? "/usr/sbin/nginx";
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

// One definition of a free loopback port for every test (tests/lib/net.ts).
export { freePort } from "../lib/net.ts";

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

/** Polls `check` every 50 ms until it holds; throws after `ms`. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function workerPids(masterPid: number): number[] {
  const r = spawnSync("pgrep", ["-P", String(masterPid)], { encoding: "utf8" });
  return r.stdout.split("\n").filter(Boolean).map(Number);
}

/** Starts nginx in the foreground (killed by `stop`) and waits until `port` accepts. */
export async function startNginx(dir: string, conf: string, port: number): Promise<Nginx> {
  const file = join(dir, "nginx.conf");
  writeFileSync(file, conf);
  const child: ChildProcess = spawn(NGINX, ["-p", dir, "-c", file, "-g", "daemon off; master_process on;"], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  let exited = false;
  child.on("exit", () => (exited = true));
  await waitFor(async () => {
    if (exited) throw new Error(`nginx exited at start:\n${readLog(dir)}`);
    return canConnect(port);
  }, "nginx to listen");
  return {
    dir,
    errorLog: () => readLog(dir),
    workers: () => workerPids(child.pid!),
    async reload() {
      const before = workerPids(child.pid!);
      const r = spawnSync(NGINX, ["-p", dir, "-c", file, "-s", "reload"], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`reload failed: ${r.stderr}`);
      // New workers exist once none of the old ones is among the master's children.
      await waitFor(() => {
        const now = workerPids(child.pid!);
        return now.length > 0 && now.every((p) => !before.includes(p));
      }, "new workers after reload");
    },
    async stop() {
      if (exited) return;
      const done = new Promise((r) => child.on("exit", r));
      child.kill("SIGTERM");
      await done;
    },
  };
}

function readLog(dir: string): string {
  try {
    return readFileSync(join(dir, "error.log"), "utf8");
  } catch {
    return "";
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.on("connect", () => (s.destroy(), resolve(true)));
    s.on("error", () => resolve(false));
  });
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

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One GET to nginx. `agent` false opens a new connection. */
export function get(port: number, path: string, headers: Record<string, string> = {}, agent: http.Agent | false = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, headers, agent }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
  });
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
