// `make run`'s launcher (scripts/run.ts) as a child process for tests: started
// with a fresh STATE_DIR inside a private (0700) directory, as in a clone under
// /root, on free loopback ports; its output is kept for assertions.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ExecutionContext } from "ava";
import { freePort } from "../lib/net.ts";
import { API_HOST, until, requireBuilt, send, type Reply } from "./system.ts";

export interface Launcher {
  child: ChildProcess;
  /** nginx's port and the route API's public port, both on 127.0.0.1. */
  port: number;
  apiPort: number;
  stateDir: string;
  output(): string;
  /** Sends `signal` to the launcher's whole process group, as Ctrl-C in a terminal does. */
  signalGroup(signal: NodeJS.Signals): void;
  /** The launcher's exit code. */
  exited: Promise<number | null>;
  /** The generated API token, as saved in STATE_DIR. */
  token(): string;
  /** A management call to api.localhost through nginx, with the token. */
  manage(method: string, path: string, body?: unknown): Promise<Reply>;
  /** Polls the output until it matches; returns the match. */
  waitForOutput(pattern: RegExp, what: string, ms?: number): Promise<RegExpMatchArray>;
}

export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** "answered", or the error code of a request that got no answer (ECONNREFUSED once nothing listens). */
export const probe = (port: number): Promise<string> =>
  send(port, API_HOST, "/healthz").then(
    () => "answered",
    (e: NodeJS.ErrnoException) => e.code ?? "error",
  );

export async function startLauncher(t: ExecutionContext, env: Record<string, string> = {}): Promise<Launcher> {
  requireBuilt();
  // mkdtemp makes it 0700: nginx's workers (www-data) cannot traverse it.
  const privateDir = mkdtempSync(join(tmpdir(), "set-backend-run-"));
  t.teardown(() => rmSync(privateDir, { recursive: true, force: true }));
  const stateDir = join(privateDir, "state");
  const port = await freePort();
  const apiPort = await freePort();
  const metricsPort = await freePort();
  const child = spawn(process.execPath, ["--import=tsx", "scripts/run.ts"], {
    env: { ...process.env, STATE_DIR: stateDir, PORT: `127.0.0.1:${port}`, API_LISTEN: `127.0.0.1:${apiPort}`, METRICS_PORT: String(metricsPort), ...env },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, as a terminal gives `make run`: Ctrl-C signals the group.
    detached: true,
  });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d));
  child.stderr!.on("data", (d: Buffer) => (output += d));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    await exited;
  });
  const token = () => readFileSync(join(stateDir, "api-token"), "utf8").trim();
  const launcher: Launcher = {
    child,
    port,
    apiPort,
    stateDir,
    output: () => output,
    signalGroup: (signal) => process.kill(-child.pid!, signal),
    exited,
    token,
    manage(method, path, body) {
      const headers: Record<string, string> = { Authorization: `Bearer ${token()}` };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      return send(port, API_HOST, path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    },
    async waitForOutput(pattern, what, ms = 20_000) {
      let match: RegExpMatchArray | null = null;
      await until(async () => (match = pattern.exec(output)) !== null, what, ms);
      return match!;
    },
  };
  try {
    // nginx's pid file too: the answer must come through this launcher's nginx.
    const up = async () => existsSync(join(stateDir, "nginx.pid")) && (await send(port, API_HOST, "/healthz")).status === 200;
    await until(up, "make run to answer", 40_000);
  } catch (error) {
    throw new Error(`${(error as Error).message}; make run said:\n${output}`);
  }
  return launcher;
}
