// The route API at 1,000,000 routes: import time, bytes on disk per route, the
// service's memory, and /resolve latency and throughput over the internal unix
// socket. Runs the real service as a child process on a fresh state directory.
//
//   make bench-api            (node --import=tsx bench/api-resolve.ts)
//
// Settings: BENCH_ENTRIES (1000000), BENCH_DURATION seconds per load run (15),
// BENCH_CONNECTIONS for the throughput run (4), BENCH_LOG_LEVEL for the service
// (info, as it ships), BENCH_DOCS=0 to leave docs/benchmarks.md alone. Raw
// figures go to bench/results/ (not committed).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { authHeaders, request, startService, type ServiceProcess } from "../api/test/fixtures/service-process.ts";
import { Samples } from "./lib/latency.ts";
import { cpuTimeMs, describeMachine, diskUsage, load1, memoryOf } from "./lib/machine.ts";
import { replaceSection, table } from "./lib/report.ts";
import { generateEntries, resolveWorkload, toNdjson, type Lookup } from "./lib/routes.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const TOKEN = "bench-token-0123456789abcdef";

function intEnv(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name}: expected a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

const ENTRIES = intEnv("BENCH_ENTRIES", 1_000_000);
const DURATION = intEnv("BENCH_DURATION", 15);
const CONNECTIONS = intEnv("BENCH_CONNECTIONS", 4);
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL || "info";
const WORKLOAD_SIZE = 20_000;
const PERCENTILES = [50, 90, 99, 99.9, 100];

const log = (message: string) => process.stderr.write(`[bench-api] ${message}\n`);
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const ms = (value: number) => `${value.toFixed(3)} ms`;

interface LoadRun {
  connections: number;
  seconds: number;
  requests: number;
  rps: number;
  errors: number;
  statuses: Record<string, number>;
  latencyMs: Record<string, number>;
  /** The service's CPU time (user + system) per answered lookup: what contention does not inflate. */
  serviceCpuUsPerRequest: number;
  load1Before: number;
  load1After: number;
}

// Before timing anything, a sample of each kind of lookup must answer as expected:
// a fast wrong answer is no result.
async function checkAnswers(service: ServiceProcess, lookups: Lookup[]): Promise<void> {
  for (const lookup of lookups.slice(0, 300)) {
    const res = await request(service.internal, "GET", lookup.path);
    const ok =
      lookup.expect === "miss" ? res.status === 404 : res.status === 200 && JSON.parse(res.body).match === lookup.expect;
    if (!ok) throw new Error(`GET ${lookup.path}: expected ${lookup.expect}, got ${res.status} ${res.body}`);
  }
}

// `seconds` bounds the run; `until` ends it early (e.g. when an import finishes).
// A request is given the whole run to answer, so that a stalled lookup shows up
// as a slow sample rather than as a timeout outside the percentiles.
async function loadRun(service: ServiceProcess, lookups: Lookup[], connections: number, seconds: number, until?: Promise<unknown>): Promise<LoadRun> {
  const socketPath = (service.internal as { socketPath: string }).socketPath;
  const samples = new Samples();
  const started = performance.now();
  const cpuBefore = cpuTimeMs(service.pid);
  const statuses: Record<string, number> = {};
  const load1Before = load1();
  const instance = autocannon({
    url: "http://localhost",
    socketPath,
    connections,
    duration: seconds,
    timeout: seconds,
    // Prebuilt requests cycled in order: the client spends no time building them.
    requests: lookups.map((l) => ({ method: "GET", path: l.path })),
  });
  instance.on("response", (_client: unknown, status: number, _bytes: number, responseMs: number) => {
    samples.add(responseMs);
    statuses[status] = (statuses[status] ?? 0) + 1;
  });
  void until?.finally(() => instance.stop());
  const result = await instance;
  const elapsed = (performance.now() - started) / 1000;
  const cpuMs = cpuTimeMs(service.pid) - cpuBefore;
  return {
    connections,
    seconds: elapsed,
    requests: samples.count,
    rps: Math.round(samples.count / elapsed),
    errors: result.errors + result.timeouts,
    statuses,
    latencyMs: samples.percentiles(PERCENTILES),
    serviceCpuUsPerRequest: samples.count > 0 ? (cpuMs * 1000) / samples.count : Number.NaN,
    load1Before,
    load1After: load1(),
  };
}

async function main(): Promise<void> {
  const machine = describeMachine();
  const startedAt = new Date();
  log(`generating ${ENTRIES} routes`);
  let entries = generateEntries(ENTRIES);
  let body: string | undefined = toNdjson(entries);
  const lookups = resolveWorkload(entries, WORKLOAD_SIZE);
  const wildcards = entries.filter((e) => e.host.startsWith("*.")).length;

  const stateDir = mkdtempSync(join(tmpdir(), "set-backend-bench-"));
  const env = {
    LOG_LEVEL,
    // The default import limit (64 MiB) is below a million lines; the benchmark
    // imports them in one request, as an operator migrating a table would.
    IMPORT_LIMIT_BYTES: String(Buffer.byteLength(body) + 2 ** 20),
  };
  let service = await startService({ stateDir, token: TOKEN, env }).catch((error: unknown) => {
    rmSync(stateDir, { recursive: true, force: true });
    throw error;
  });
  try {
    log(`importing ${mib(Buffer.byteLength(body))} of NDJSON (load ${load1()})`);
    const importLoad = load1();
    const t0 = performance.now();
    const res = await request(service.public, "POST", "/entries/import", {
      headers: authHeaders(TOKEN, "application/x-ndjson"),
      body,
    });
    const importMs = performance.now() - t0;
    if (res.status !== 200) throw new Error(`import answered ${res.status}: ${res.body.slice(0, 1000)}`);
    const health = JSON.parse((await request(service.public, "GET", "/healthz")).body) as { entries: number };
    if (health.entries !== ENTRIES) throw new Error(`expected ${ENTRIES} entries after the import, /healthz says ${health.entries}`);
    const disk = diskUsage(join(stateDir, "routes.mdb"));
    const memoryAfterImport = memoryOf(service.pid);
    log(`imported in ${(importMs / 1000).toFixed(2)} s; ${mib(disk.allocated)} on disk; RSS ${mib(memoryAfterImport.rss)}`);

    body = undefined;
    entries = [];
    await checkAnswers(service, lookups);
    log("warm-up, 3 s");
    await loadRun(service, lookups, CONNECTIONS, 3);
    log(`latency run: 1 connection, ${DURATION} s (load ${load1()})`);
    const single = await loadRun(service, lookups, 1, DURATION);
    log(`throughput run: ${CONNECTIONS} connections, ${DURATION} s (load ${load1()})`);
    const multi = await loadRun(service, lookups, CONNECTIONS, DURATION);
    const memoryAfterLoad = memoryOf(service.pid);

    // An import holds the event loop while it validates and writes; nginx's
    // lookups wait meanwhile. Re-import the whole table with new backends under
    // a 1-connection resolve load and see what the lookups suffer.
    log(`resolve during a re-import of all ${ENTRIES} routes (load ${load1()})`);
    const changed = toNdjson(generateEntries(ENTRIES).map((e) => ({ host: e.host, backend: e.backend.startsWith("unix:") ? `${e.backend}2` : e.backend.replace(/:(\d+)$/, (_, p: string) => `:${Number(p) + 1}`) })));
    const reimport = request(service.public, "POST", "/entries/import", {
      headers: authHeaders(TOKEN, "application/x-ndjson"),
      body: changed,
    });
    const duringImport = await loadRun(service, lookups, 1, 120, reimport);
    const reimported = await reimport;
    if (reimported.status !== 200) throw new Error(`re-import answered ${reimported.status}: ${reimported.body.slice(0, 1000)}`);

    // The import's garbage stays in a process's heap; a restarted service shows
    // what the table costs in steady state.
    log("restart on the same state directory, 3 s of resolve load");
    await service.kill();
    service = await startService({ stateDir, token: TOKEN, env });
    await loadRun(service, lookups, CONNECTIONS, 3);
    const memoryAfterRestart = memoryOf(service.pid);

    const figures = {
      date: startedAt.toISOString(),
      machine,
      entries: ENTRIES,
      wildcards,
      import: { ms: Math.round(importMs), load1Before: importLoad },
      disk: { ...disk, allocatedPerEntry: disk.allocated / ENTRIES, apparentPerEntry: disk.apparent / ENTRIES },
      logLevel: LOG_LEVEL,
      memory: { afterImport: memoryAfterImport, afterLoad: memoryAfterLoad, afterRestart: memoryAfterRestart },
      workload: { lookups: WORKLOAD_SIZE, exact: 0.8, wildcard: 0.1, miss: 0.1 },
      runs: [single, multi],
      duringImport,
    };
    mkdirSync(join(ROOT, "bench/results"), { recursive: true });
    writeFileSync(join(ROOT, `bench/results/api-resolve-${startedAt.toISOString().replace(/[:.]/g, "-")}.json`), JSON.stringify(figures, null, 2));

    const markdown = render(figures);
    process.stdout.write(markdown + "\n");
    if (process.env.BENCH_DOCS !== "0") {
      replaceSection(join(ROOT, "docs/benchmarks.md"), "api-resolve", markdown);
      log("wrote docs/benchmarks.md (section api-resolve)");
    }
  } finally {
    await service.kill();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

function verdict(ok: boolean): string {
  return ok ? "met" : "**missed**";
}

function render(f: {
  date: string;
  machine: ReturnType<typeof describeMachine>;
  entries: number;
  wildcards: number;
  import: { ms: number; load1Before: number };
  disk: { allocated: number; apparent: number; allocatedPerEntry: number; apparentPerEntry: number };
  logLevel: string;
  memory: { afterImport: { rss: number; peak: number }; afterLoad: { rss: number; peak: number }; afterRestart: { rss: number } };
  runs: LoadRun[];
  duringImport: LoadRun;
}): string {
  const [single, multi] = f.runs as [LoadRun, LoadRun];
  const statusMix = (run: LoadRun) =>
    Object.entries(run.statuses)
      .map(([status, n]) => `${status}: ${((n / run.requests) * 100).toFixed(1)}%`)
      .join(", ");
  const rows: string[][] = [
    ["import of all routes (one NDJSON request)", `${(f.import.ms / 1000).toFixed(2)} s`, "≤ 60 s", verdict(f.import.ms <= 60_000)],
    [
      "routes.mdb on disk (allocated blocks, as `du`)",
      `${mib(f.disk.allocated)} = ${f.disk.allocatedPerEntry.toFixed(0)} B/route`,
      "≤ 200 B/route",
      verdict(f.disk.allocatedPerEntry <= 200),
    ],
    ["routes.mdb apparent size (as `ls -l`)", `${mib(f.disk.apparent)} = ${f.disk.apparentPerEntry.toFixed(0)} B/route`, "", ""],
    ["service RSS after the import (peak)", `${mib(f.memory.afterImport.rss)} (${mib(f.memory.afterImport.peak)})`, "", ""],
    ["service RSS after the resolve runs", mib(f.memory.afterLoad.rss), "", ""],
    ["service RSS after a restart and 3 s of resolve load", mib(f.memory.afterRestart.rss), "", ""],
  ];
  for (const run of [single, multi]) {
    const label = `${run.connections} connection${run.connections > 1 ? "s" : ""}`;
    rows.push([
      `/resolve, ${label}: p50 / p90 / p99 / p99.9`,
      `${ms(run.latencyMs.p50!)} / ${ms(run.latencyMs.p90!)} / ${ms(run.latencyMs.p99!)} / ${ms(run.latencyMs["p99.9"]!)}`,
      "p99 ≤ 1 ms",
      verdict(run.latencyMs.p99! <= 1),
    ]);
    rows.push([
      `/resolve, ${label}: throughput`,
      `${run.rps.toLocaleString("en-US")} req/s (${statusMix(run)}; ${run.errors} errors); service CPU ${run.serviceCpuUsPerRequest.toFixed(1)} µs/lookup`,
      "",
      "",
    ]);
  }
  const d = f.duringImport;
  rows.push([
    `/resolve during a re-import of all routes, 1 connection: p50 / p99 / max`,
    `${ms(d.latencyMs.p50!)} / ${ms(d.latencyMs.p99!)} / ${ms(d.latencyMs.p100!)} (${d.requests.toLocaleString("en-US")} lookups in ${d.seconds.toFixed(1)} s; ${d.errors} errors)`,
    "",
    "",
  ]);
  const loads = [f.import.load1Before, single.load1Before, single.load1After, multi.load1After].map((l) => l.toFixed(2)).join(" → ");
  return `## Route API at ${f.entries.toLocaleString("en-US")} routes (\`bench/api-resolve.ts\`)

Measured ${f.date.slice(0, 16).replace("T", " ")} UTC with \`make bench-api\` (\`node --import=tsx bench/api-resolve.ts\`).
Machine: ${f.machine.cpus} × ${f.machine.cpuModel}, ${f.machine.memoryGiB} GiB RAM, Linux ${f.machine.kernel}, Node ${f.machine.node}.
Shared machine: 1-minute load average at import → latency run start → end → throughput run end: ${loads}
(${f.machine.cpus} cores: a load above ~1 means the service and the benchmark's client shared the CPUs with other work;
\`uptime\` before the run is the first figure).

${table(["what", "measured", "target", "verdict"], rows)}

How: the real service (\`api/src/main.ts\`, \`LOG_LEVEL=${f.logLevel}\`${f.logLevel === "info" ? ", the level it ships with" : ""}) runs as a child process on a
fresh \`STATE_DIR\`. The table is ${f.entries.toLocaleString("en-US")} routes, ${f.wildcards.toLocaleString("en-US")} of them
wildcards (\`*.tenant-N.pages-K.io\`), the rest exact names (\`site-NNNNNN.example-K.com\`, \`www.shop-N.store-K.net\`) in
shuffled order, imported in one \`POST /entries/import\`; the import time is from the first byte sent to the answer,
so it includes the upload, validation, the LMDB transaction and its flush to disk. The resolve load is autocannon
over the internal unix socket cycling through 20,000 lookups: 80% exact hits, 10% names under a wildcard route,
10% misses (no catch-all is loaded, so a miss tries every suffix). The service's CPU time per lookup (user + system,
from \`/proc/<pid>/stat\`) is the figure that contention on a shared machine does not inflate. Latency percentiles are computed from every
response (all statuses), not from autocannon's whole-millisecond histogram; autocannon runs in the benchmark's
process on the same ${f.machine.cpus} cores as the service. Before the runs, a 3-second warm-up, and 300 lookups are checked for the
expected answer. The last row re-imports the whole table with new backends (one request, every route replaced)
while one connection keeps resolving: the import validates and writes on a worker thread, off the event loop that answers lookups.
`;
}

main().catch((error: unknown) => {
  process.stderr.write(`[bench-api] failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
