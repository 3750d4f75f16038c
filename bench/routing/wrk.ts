// One wrk run against a port on loopback, Host headers spread over many sites
// (hosts.lua), parsed into numbers. wrk is Debian's; one thread, 32 connections.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("./hosts.lua", import.meta.url));
/** The `done` callback every script loads, which prints the RESULT line parsed here. */
const RESULT_LUA = fileURLToPath(new URL("./result.lua", import.meta.url));

export interface WrkResult {
  rps: number;
  /** Latency percentiles in µs. */
  p50: number;
  p99: number;
  p999: number;
  max: number;
  requests: number;
  /** Non-2xx answers plus socket errors: a run with errors is not a fair figure. */
  errors: number;
  errorDetail: string;
}

export interface WrkOptions {
  port: number;
  seconds: number;
  connections?: number;
  hosts?: number;
  firstHost?: number;
  /** Another wrk Lua script printing the same RESULT line, and its environment. */
  script?: string;
  env?: Record<string, string>;
}

export function wrk(options: WrkOptions): Promise<WrkResult> {
  const args = ["-t1", `-c${options.connections ?? 32}`, `-d${options.seconds}s`, "--timeout", "5s", "-s", options.script ?? SCRIPT, `http://127.0.0.1:${options.port}/`];
  const env = { ...process.env, BENCH_HOSTS: String(options.hosts ?? 1000), BENCH_FIRST_HOST: String(options.firstHost ?? 1), BENCH_RESULT_LUA: RESULT_LUA, ...options.env };
  return new Promise((resolve, reject) => {
    // wrk stops by itself after -d; the timeout is a guard against a hung run.
    execFile("wrk", args, { env, timeout: (options.seconds + 20) * 1000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`wrk failed: ${error.message}\n${stderr}`));
      const line = stdout.split("\n").find((l) => l.startsWith("RESULT "));
      if (!line) return reject(new Error(`wrk printed no RESULT line:\n${stdout}\n${stderr}`));
      const r = JSON.parse(line.slice(7)) as Record<string, number>;
      const seconds = r.duration_us! / 1e6;
      resolve({
        rps: r.requests! / seconds,
        p50: r.p50!,
        p99: r.p99!,
        p999: r.p999!,
        max: r.max!,
        requests: r.requests!,
        errors: r.non2xx! + r.connect! + r.read! + r.write! + r.timeout!,
        errorDetail: `non-2xx ${r.non2xx}, connect ${r.connect}, read ${r.read}, write ${r.write}, timeout ${r.timeout}`,
      });
    });
  });
}
