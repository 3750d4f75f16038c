// Runs the route API as a real process (`node api/src/main.ts`) and waits for its
// "route API listening" log line, which names both listeners.
import { spawn, type ChildProcess } from "node:child_process";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

const root = resolve(import.meta.dirname, "../..");

export interface ApiProcess {
  process: ChildProcess;
  /** The public listener as host:port. */
  publicAddress: string;
  port: number;
  socket: string;
  logs: Record<string, unknown>[];
  stderr: string[];
  exited: Promise<number | null>;
  /** SIGTERM, then waits for the exit; returns the exit code. */
  stop(): Promise<number | null>;
}

export async function startApiProcess(stateDir: string, env: Record<string, string> = {}): Promise<ApiProcess> {
  const child = spawn(process.execPath, ["--import=tsx", join(root, "api/src/main.ts")], {
    env: { ...process.env, STATE_DIR: stateDir, API_LISTEN: "127.0.0.1:0", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  child.stderr!.on("data", (d: Buffer) => stderr.push(d.toString()));
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  const ready = await new Promise<Record<string, unknown>>((done, fail) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      logs.push(entry);
      if (entry.msg === "route API listening") done(entry);
    });
    exited.then((code) => fail(new Error(`the route API exited with ${code}: ${stderr.join("")}`)));
  });
  const publicAddress = String(ready.public);
  return {
    process: child,
    publicAddress,
    port: Number(publicAddress.split(":").at(-1)),
    socket: String(ready.internal).slice("unix:".length),
    logs,
    stderr,
    exited,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}
