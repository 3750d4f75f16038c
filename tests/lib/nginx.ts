// Starts Debian's nginx in the foreground for a test or benchmark and stops it:
// one way to launch, wait for and end the nginx every suite runs (the nginx
// tests' own configurations, and `make run`'s template for e2e and fleet).
import { spawn, type ChildProcess } from "node:child_process";
import { until } from "./wait.ts";

export const NGINX = process.env.NGINX_BIN ?? "/usr/sbin/nginx";

export interface NginxProcess {
  /** The master process. */
  child: ChildProcess;
  /** What nginx wrote to stdout and stderr (the last 64 KiB). */
  output(): string;
  /** Ends nginx with TERM (fast shutdown: QUIT would wait for the filter's long-poll) and waits for its exit. */
  stop(): Promise<void>;
}

export interface SpawnOptions {
  /** nginx's command-line arguments; they must keep it in the foreground ("daemon off;"). */
  args: string[];
  /** Polled until it holds: nginx is ready. */
  ready: () => boolean | Promise<boolean>;
  /** How long nginx may take to become ready (ms). */
  readyMs?: number;
  /** Adds to the error when nginx does not become ready (e.g. its error log). */
  explain?: () => string;
}

/** Spawns nginx and resolves once `ready` holds; fails (and stops nginx) if it exits or does not get ready. */
export async function spawnNginx(options: SpawnOptions): Promise<NginxProcess> {
  const child = spawn(NGINX, options.args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (chunk: Buffer) => (output = (output + chunk).slice(-65_536));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const nginx: NginxProcess = {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await exited;
    },
  };
  try {
    await until(async () => {
      if (child.exitCode !== null) return true; // reported below
      return options.ready();
    }, "nginx to be ready", options.readyMs ?? 30_000);
  } catch (error) {
    await nginx.stop();
    throw new Error(`${(error as Error).message}:\n${output}${options.explain?.() ?? ""}`);
  }
  if (child.exitCode !== null) {
    throw new Error(`nginx exited at start (code ${child.exitCode}):\n${output}${options.explain?.() ?? ""}`);
  }
  return nginx;
}
