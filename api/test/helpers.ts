// Starts the real service (real LMDB in a temporary directory, real HTTP on
// loopback and a unix socket) for a test, and talks to both listeners.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ExecutionContext } from "ava";
import pino from "pino";
import { createApps, type RouteList } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { BackendNames } from "../src/names.ts";
import { RouteStore } from "../src/store.ts";
import { startService, type Service } from "../src/service.ts";

export const TOKEN = "test-token-0123456789abcdef";

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): any;
}

export interface TestService {
  dir: string;
  service: Service;
  socket: string;
  /** A call to the public listener with the token unless `auth: false`. */
  api(path: string, init?: { method?: string; body?: string; headers?: Record<string, string>; auth?: boolean }): Promise<Reply>;
  /** A call to the internal listener (unix socket). */
  internal(path: string, init?: { method?: string }): Promise<Reply>;
  /** Stops the service and starts it again on the same state directory. */
  restart(): Promise<void>;
}

export function httpRequest(
  options: { socketPath?: string; host?: string; port?: number; path: string; method?: string; headers?: Record<string, string> },
  body?: string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ ...options, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: res.statusCode!, headers: res.headers, text, json: () => JSON.parse(text) });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

export async function startTestService(t: ExecutionContext, env: Record<string, string> = {}): Promise<TestService> {
  const dir = mkdtempSync(join(tmpdir(), "set-backend-api-"));
  // As STATE_DIR is in a real install: nginx's workers must be able to reach the socket in it.
  chmodSync(dir, 0o755);
  const socket = join(dir, "resolver.sock");
  const config = loadConfig({ STATE_DIR: dir, API_LISTEN: "127.0.0.1:0", RESOLVER_LISTEN: `unix:${socket}`, ...env });
  const logger = pino({ level: "silent" });
  let service = await startService(config, TOKEN, logger);
  let running = true;
  t.teardown(async () => {
    if (running) await service.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const port = () => Number(service.publicAddress.split(":").at(-1));
  return {
    dir,
    socket,
    get service() {
      return service;
    },
    api(path, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      if (init.auth !== false) headers.Authorization ??= `Bearer ${TOKEN}`;
      if (init.body !== undefined) headers["Content-Type"] ??= "application/json";
      return httpRequest({ host: "127.0.0.1", port: port(), path, method: init.method ?? "GET", headers }, init.body);
    },
    internal(path, init = {}) {
      return httpRequest({ socketPath: socket, path, method: init.method ?? "GET" });
    },
    async restart() {
      running = false;
      await service.stop();
      service = await startService(config, TOKEN, logger);
      running = true;
    },
  };
}

export const post = (s: TestService, host: string, backend: string) =>
  s.api("/entries.json", { method: "POST", body: JSON.stringify({ host, backend }) });

/** The routes each listener serves, from the apps as the service builds them (on a throwaway store). */
export function servedRoutes(t: ExecutionContext): { publicRoutes: RouteList; internalRoutes: RouteList } {
  const dir = mkdtempSync(join(tmpdir(), "set-backend-routes-"));
  const store = new RouteStore({ dir });
  t.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return createApps({
    store,
    names: new BackendNames({ ttlMs: 1000, maxTtlMs: 1000, staleMs: 0, failureTtlMs: 1000 }),
    logger: pino({ level: "silent" }),
    token: "x".repeat(16),
    domain: "localhost",
    importLimitBytes: 1,
    shutdown: new AbortController().signal,
  });
}
