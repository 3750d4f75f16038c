// Instructions per request of a front end's worker, counted by valgrind's
// callgrind: unlike CPU time, the count does not move with the machine's load
// (this VM has no hardware counters, so `perf stat` cannot count them).
//
// Each setup runs twice under callgrind with one worker: both runs send the same
// warm-up (every host once as a miss, then once as a hit, one keep-alive
// connection), then one idles for `seconds` while the other is loaded by wrk
// for as long. The difference between the two workers' totals, divided by the
// loaded run's requests, is what a request costs: start-up, warm-up and the
// timers that tick with wall time cancel out.
import { execFileSync } from "node:child_process";
import { copyFileSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { FRONT, haproxyConf, nginxConf, type Paths, type Setup } from "./configs.ts";
import { get, sequentialLatencies } from "./probes.ts";
import { startHaproxy, startNginx } from "./procs.ts";
import { wrk } from "./wrk.ts";

export interface InstructionCount {
  /** Worker instructions per request (loaded run minus idle run, over the loaded run's requests). */
  perRequest: number;
  /** The same, by where the code lives (see PARTS). */
  parts: Record<Part, number>;
  requests: number;
  idleTotal: number;
  loadedTotal: number;
}

/** Where a worker's instructions execute, from the object callgrind names for each function. */
export const PARTS = ["nginx", "set_backend module", "filter (wasm)", "Lua", "HAProxy", "libc", "other"] as const;
export type Part = (typeof PARTS)[number];

function partOf(object: string): Part {
  if (object.endsWith("/nginx") || (object.includes("/nginx/modules/ngx_http_") && !object.includes("lua"))) return "nginx";
  if (object.includes("ngx_http_set_backend")) return "set_backend module";
  // Code with no object file is JIT output: the filter's wasmtime code (or LuaJIT's traces).
  if (object === "???") return "filter (wasm)";
  if (/lua|ndk_http/i.test(object)) return "Lua";
  if (object.endsWith("/haproxy")) return "HAProxy";
  if (/\/(libc|libm|ld-linux|libpthread)[.-]/.test(object)) return "libc";
  return "other";
}

/** Self instructions by part, from `callgrind_annotate` (every function, no threshold). */
export function instructionsByPart(annotated: string): Record<Part, number> {
  const parts = Object.fromEntries(PARTS.map((p) => [p, 0])) as Record<Part, number>;
  for (const line of annotated.split("\n")) {
    const m = /^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?\S.*\[([^\]]*)\]\s*$/.exec(line);
    if (!m || line.includes("PROGRAM TOTALS")) continue;
    parts[partOf(m[2]!)] += Number(m[1]!.replaceAll(",", ""));
  }
  return parts;
}

function annotate(file: string): Record<Part, number> {
  const text = execFileSync("callgrind_annotate", ["--inclusive=no", "--threshold=100", "--auto=no", file], { encoding: "utf8", maxBuffer: 256 << 20 });
  return instructionsByPart(text);
}

/** valgrind exec()s the program in its own process, so the pid and the workers stay nginx's. */
const callgrind = (out: string) => ["valgrind", "--tool=callgrind", "--quiet", `--callgrind-out-file=${out}.%p`, "--dump-instr=no", "--collect-jumps=no", "--smc-check=all-non-file"];

/** The "summary:" (or "totals:") line of a callgrind file: instructions executed. */
export function callgrindTotal(text: string): number {
  const line = /^(?:summary|totals):\s*(\d+)/m.exec(text);
  if (!line) throw new Error("callgrind output has no summary line");
  return Number(line[1]);
}

async function run(setup: Setup, paths: Paths, hosts: string[], seconds: number, loaded: boolean): Promise<{ total: number; parts: Record<Part, number>; requests: number }> {
  const out = join(paths.dir, `callgrind-${setup.id}-${loaded ? "loaded" : "idle"}`);
  const wrap = callgrind(out);
  // Under valgrind a start takes many times longer (wasmtime, LuaJIT, a 1,000,000-line map).
  const server =
    setup.kind === "haproxy"
      ? await startHaproxy(paths.dir, "haproxy", haproxyConf(1, paths), FRONT, 600_000, wrap)
      : await startNginx(paths.dir, `front-${setup.id}`, nginxConf(setup.id, 1, paths), FRONT, 600_000, wrap);
  let worker = 0;
  let requests = 0;
  try {
    // The master listens before it forks the worker, which under valgrind can take a while.
    for (let i = 0; i < 600 && server.workers().length === 0; i++) await sleep(100);
    worker = server.workers()[0]!;
    if (!worker) throw new Error(`${setup.id}: no worker process under callgrind`);
    // The worker accepts only once it is initialized (wasmtime, LuaJIT: seconds under valgrind);
    // one request with a long timeout waits for that without retries that would differ between runs.
    const first = await get(FRONT, hosts[0]!, false, 300_000);
    if (first.status !== 200) throw new Error(`${setup.id} under callgrind: ${hosts[0]} answered ${first.status}`);
    await sequentialLatencies(FRONT, hosts); // misses where there is a cache
    await sequentialLatencies(FRONT, hosts); // hits
    if (loaded) {
      // One connection: every request is one wake-up of the worker, so the count per request does
      // not depend on how many requests a busy or idle machine lets wrk pile into one epoll round.
      const r = await wrk({ port: FRONT, seconds, connections: 1, hosts: hosts.length, firstHost: Number(/site-(\d+)/.exec(hosts[0]!)![1]) });
      if (r.errors > 0) throw new Error(`${setup.id} under callgrind: ${r.errorDetail}`);
      requests = r.requests;
    } else {
      await sleep(seconds * 1000);
    }
  } finally {
    await server.stop();
  }
  // The worker writes its file when it exits, which may be after the master.
  const file = `${out}.${worker}`;
  for (let i = 0; i < 600 && !readdirSync(paths.dir).includes(file.slice(paths.dir.length + 1)); i++) await sleep(100);
  await sleep(200);
  const total = callgrindTotal(readFileSync(file, "utf8"));
  const parts = annotate(file);
  // BENCH_CALLGRIND_DIR keeps both runs' files: callgrind_annotate of each shows where the instructions go.
  const keep = process.env.BENCH_CALLGRIND_DIR;
  if (keep) copyFileSync(file, join(keep, `callgrind.${setup.id}.${loaded ? "loaded" : "idle"}`));
  for (const f of readdirSync(paths.dir)) if (f.startsWith(out.slice(paths.dir.length + 1))) rmSync(join(paths.dir, f));
  return { total, parts, requests };
}

export async function countInstructions(setup: Setup, paths: Paths, hosts: string[], seconds: number): Promise<InstructionCount> {
  const idle = await run(setup, paths, hosts, seconds, false);
  const loaded = await run(setup, paths, hosts, seconds, true);
  const per = (a: number, b: number) => (b - a) / Math.max(1, loaded.requests);
  const parts = Object.fromEntries(PARTS.map((p) => [p, per(idle.parts[p], loaded.parts[p])])) as Record<Part, number>;
  return { perRequest: per(idle.total, loaded.total), parts, requests: loaded.requests, idleTotal: idle.total, loadedTotal: loaded.total };
}
