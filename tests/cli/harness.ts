// Runs the real `set-backend` bin (cli/bin.mjs, as npx does) against a real route
// API process on loopback, from a clean environment.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ExecutionContext } from "ava";
import { authHeaders, request, startService, type ServiceProcess } from "../../api/test/fixtures/service-process.ts";

export const BIN = fileURLToPath(new URL("../../cli/bin.mjs", import.meta.url));
export const TOKEN = "cli-test-token-0123456789";
const NO_STATE = join(tmpdir(), "set-backend-cli-test-no-state");

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Api {
  service: ServiceProcess;
  url: string;
  /**
   * A call straight to the API with the token, for setting up and checking
   * state where the CLI is not what is tested (a CLI run costs a process).
   */
  http(method: string, path: string, body?: string, contentType?: string): Promise<{ status: number; body: string }>;
  /** Runs the CLI with this API's URL and token in its environment (unless `env` says otherwise). */
  cli(args: string[], options?: { env?: Record<string, string>; input?: string; cwd?: string }): Promise<Run>;
}

export function runCli(args: string[], options: { env?: Record<string, string>; input?: string; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd ?? tmpdir(),
      // Nothing of the caller's SET_BACKEND_* or STATE_DIR leaks in, and a STATE_DIR
      // without a token file keeps the CLI from finding this clone's .run/api-token
      // (there after a `make run`); a test clears it to test that search.
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", STATE_DIR: NO_STATE, ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input);
  });
}

export function tempDir(t: ExecutionContext, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `set-backend-${name}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A route API process with its own state directory, stopped after the test. */
export async function startApi(t: ExecutionContext, options: { token?: string | null; env?: Record<string, string> } = {}): Promise<Api> {
  const stateDir = tempDir(t, "cli-api");
  const token = options.token === null ? undefined : (options.token ?? TOKEN);
  const service = await startService({ stateDir, ...(token ? { token } : {}), env: { LOG_LEVEL: "warn", ...options.env } });
  t.teardown(() => service.stop());
  // LOG_LEVEL warn makes startService pick the port and poll: the public target is TCP.
  const { host, port } = service.public as { host: string; port: number };
  const url = `http://${host}:${port}`;
  return {
    service,
    url,
    http: (method, path, body, contentType) =>
      request(service.public, method, path, { headers: authHeaders(service.token, contentType), ...(body === undefined ? {} : { body }) }),
    cli: (args, init = {}) =>
      runCli(args, { ...init, env: { SET_BACKEND_URL: url, SET_BACKEND_TOKEN: service.token, ...init.env } }),
  };
}

/** The backend of a host straight from the API, or undefined when it has no route. */
export async function backendOf(api: Api, host: string): Promise<string | undefined> {
  const reply = await api.http("GET", `/entries/${encodeURIComponent(host).replace(/\*/g, "%2A")}.json`);
  return reply.status === 200 ? (JSON.parse(reply.body) as { backend: string }).backend : undefined;
}

/** Imports NDJSON straight through the API. */
export async function seed(api: Api, ndjson: string): Promise<void> {
  const reply = await api.http("POST", "/entries/import", ndjson, "application/x-ndjson");
  if (reply.status !== 200) throw new Error(`seeding failed: ${reply.status} ${reply.body}`);
}

/** How many routes the API holds (its /healthz). */
export async function entriesOf(api: Api): Promise<number> {
  return (JSON.parse((await api.http("GET", "/healthz")).body) as { entries: number }).entries;
}

/** `count` NDJSON routes h<i>.<domain>. */
export function routeLines(count: number, domain = "example.com"): string {
  let body = "";
  for (let i = 0; i < count; i++) body += JSON.stringify({ host: `h${i}.${domain}`, backend: `10.0.${i % 250}.1:${1000 + (i % 60_000)}` }) + "\n";
  return body;
}

/** Lines of output, without the trailing empty one. */
export const linesOf = (text: string) => text.split("\n").filter((line) => line !== "");
