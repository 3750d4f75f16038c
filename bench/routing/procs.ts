// Processes under test: nginx (Debian's binary, foreground, one prefix
// directory per instance) and HAProxy, started and stopped by the benchmark,
// with their workers' memory read from /proc.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface Server {
  name: string;
  pid: number;
  /** ms from spawn to the first accepted connection on `port`. */
  startMs: number;
  /** ms `nginx -t` took on the configuration before the start (0 for HAProxy). */
  testMs: number;
  /** Worker pids (nginx: the master's children; HAProxy: the process itself). */
  workers(): number[];
  stop(): Promise<void>;
  exited: Promise<void>;
  output(): string;
}

const live = new Set<ChildProcess>();

/** Kills whatever is still running (on exit, on a signal, after a failure), nginx's workers too:
 * a SIGKILLed master leaves its workers behind, still listening. */
export function killAll(): void {
  for (const child of live) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const workers = children(child.pid!);
    child.kill("SIGKILL");
    for (const pid of workers) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Resident memory of one process in bytes (0 if it has gone). */
export function rssOf(pid: number): number {
  try {
    const match = /^VmRSS:\s*(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

async function launch(name: string, command: string, args: string[], port: number, readyMs: number, workers: (pid: number) => number[], testMs = 0): Promise<Server> {
  const t0 = performance.now();
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  let out = "";
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-8192));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  exited.then(() => live.delete(child));
  const deadline = Date.now() + readyMs;
  while (!(await portOpen(port))) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited before listening:\n${out}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${name} did not listen on ${port} within ${readyMs} ms:\n${out}`);
    }
    await sleep(20);
  }
  const startMs = performance.now() - t0;
  return {
    name,
    pid: child.pid!,
    startMs,
    testMs,
    workers: () => workers(child.pid!),
    output: () => out,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
      // nginx's workers leave after the master; wait until the port is free again.
      for (let i = 0; i < 100 && (await portOpen(port)); i++) await sleep(20);
    },
  };
}

/** nginx in the foreground from a configuration text, prefix `dir`; `wrap` runs it under another
 * program (valgrind for instruction counts), which must exec nginx in the same process. */
export async function startNginx(dir: string, name: string, conf: string, port: number, readyMs = 120_000, wrap: string[] = []): Promise<Server> {
  const file = join(dir, `${name}.conf`);
  writeFileSync(file, conf);
  const t0 = performance.now();
  const test = spawnSync("/usr/sbin/nginx", ["-t", "-q", "-p", dir, "-c", file], { encoding: "utf8", timeout: readyMs });
  if (test.status !== 0) throw new Error(`nginx -t failed for ${name}:\n${test.stderr}`);
  const testMs = performance.now() - t0;
  const [command, ...prefix] = [...wrap, "/usr/sbin/nginx"];
  return launch(name, command!, [...prefix, "-p", dir, "-c", file, "-g", "daemon off;"], port, readyMs, children, testMs);
}

export async function startHaproxy(dir: string, name: string, conf: string, port: number, readyMs = 120_000, wrap: string[] = []): Promise<Server> {
  const file = join(dir, `${name}.cfg`);
  writeFileSync(file, conf);
  // -db: foreground, no daemon; the process is the only worker (nbthread threads).
  const [command, ...prefix] = [...wrap, "/usr/sbin/haproxy"];
  return launch(name, command!, [...prefix, "-db", "-f", file], port, readyMs, (pid) => [pid]);
}

/** Sum of the workers' resident memory, in bytes. */
export function workersRss(server: Server): number {
  return server.workers().reduce((sum, pid) => sum + rssOf(pid), 0);
}

/** One line to HAProxy's runtime API (stats socket); returns its answer. */
export function haproxyCommand(socket: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const conn = net.connect(socket);
    let answer = "";
    conn.setEncoding("utf8");
    conn.on("data", (d) => (answer += d));
    conn.on("end", () => resolve(answer));
    conn.on("error", reject);
    conn.setTimeout(10_000, () => conn.destroy(new Error(`haproxy runtime API: no answer to ${line}`)));
    conn.end(`${line}\n`);
  });
}
