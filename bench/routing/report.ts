// The routing benchmark's results: a JSON file next to the harness, the
// "routing" section of docs/benchmarks.md, and a PNG chart (gnuplot).
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeMachine } from "../lib/machine.ts";
import { replaceSection, table } from "../lib/report.ts";
import type { SetupId } from "./configs.ts";
import type { WrkResult } from "./wrk.ts";
import { PARTS, type InstructionCount } from "./instructions.ts";
import { MEMORY_PARTS, type WorkerMemory } from "./smaps.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DOCS = join(ROOT, "docs/benchmarks.md");
const CHART = join(ROOT, "docs/benchmarks-routing.png");
const JSON_OUT = fileURLToPath(new URL("./results.json", import.meta.url));

export interface Row extends WrkResult {
  phase: "10k" | "1M";
  workers: number;
  setup: SetupId;
  label: string;
  rssPerWorker: number;
  /** Resident memory of the one worker by what it holds (1-worker rows). */
  memory?: WorkerMemory;
  load: number;
  startMs: number;
  testMs: number;
  /** CPU time (user + system) of the front end's workers per request, µs. */
  cpuPerRequest: number;
  /** Latency in ms one request at a time on one connection (no queueing): what a lookup adds. */
  quiet: { p50: number; p99: number; p999: number };
  /** req/s of every round, in order (the row is the best one). */
  runs?: number[];
  /** Worker CPU µs per request of every round. */
  cpuRuns?: number[];
}

export interface Results {
  date: string;
  seconds: number;
  rounds: number;
  loadStart: number[];
  loadEnd: number[];
  durationS: number;
  versions: Record<string, string>;
  rows: Row[];
  /** Worker instructions per request under callgrind, 1 worker (instructions.ts). */
  instructions: ({ phase: "10k" | "1M"; setup: SetupId; label: string } & InstructionCount)[];
  miss: { setup: SetupId; label: string; samples: number; missP50: number; missP99: number; hitP50: number; hitP99: number; load: number }[];
  propagation: { setup: SetupId; label: string; workers: number; routes: number; samples: number; firstP50: number; firstMax: number; allP50: number; allMax: number }[];
  loads: Partial<Record<"import10k" | "importBig" | "mapGenerateBig" | "mapStartBig" | "mapTestBig" | "haproxyMapGenerateBig" | "haproxyStartBig", number>>;
}

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? "–" : n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n.toFixed(n < 10 ? 2 : 0)} ms`);
const us = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(2)} ms` : `${n} µs`);
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

function ratio(rows: Row[], row: Row, base: SetupId): string {
  const b = rows.find((r) => r.phase === row.phase && r.workers === row.workers && r.setup === base);
  return b ? (row.rps / b.rps).toFixed(2) : "–";
}

function throughputTable(rows: Row[], phase: Row["phase"]): string {
  const body = rows
    .filter((r) => r.phase === phase)
    .sort((a, b) => a.workers - b.workers)
    .map((r) => [
      String(r.workers),
      r.label.replace(/\$/g, "\\$"),
      int(r.rps),
      ratio(rows, r, "static-ka"),
      ratio(rows, r, "static"),
      us(r.p50),
      us(r.p99),
      us(r.p999),
      (r.cpuRuns ?? [r.cpuPerRequest]).map((c) => c.toFixed(1)).join(" / "),
      `${r.quiet.p50.toFixed(3)} / ${r.quiet.p99.toFixed(3)} ms`,
      mib(r.rssPerWorker),
      r.errors ? `**${r.errors}**` : "0",
      String(r.load),
      (r.runs ?? []).map(int).join(" / "),
    ]);
  return table(["workers", "setup", "req/s", "× (1a)", "× (1b)", "p50", "p99", "p99.9", "worker CPU µs/req per round", "1 conn. p50 / p99", "RSS/worker", "errors", "load", "req/s per round"], body);
}

interface Verdict {
  what: string;
  measured: string;
  target: string;
  met: boolean | undefined;
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)]! : Number.NaN;
};

/** req/s ratio of two rows: best rounds, and medians of the rounds (less sensitive to one lucky run). */
function rpsRatio(a: Row, b: Row): { best: number; median: number } {
  return { best: a.rps / b.rps, median: median(a.runs ?? [a.rps]) / median(b.runs ?? [b.rps]) };
}

/** Worker CPU µs per request: the median of the rounds. */
const cpu = (row: Row) => median(row.cpuRuns ?? [row.cpuPerRequest]);

/** Instructions per request of `id` over `base` in one phase, or undefined when either is missing. */
function instructionRatio(r: Results, phase: "10k" | "1M", id: SetupId, base: SetupId): { ours: number; base: number; ratio: number } | undefined {
  const a = r.instructions.find((x) => x.phase === phase && x.setup === id);
  const b = r.instructions.find((x) => x.phase === phase && x.setup === base);
  return a && b ? { ours: a.perRequest, base: b.perRequest, ratio: a.perRequest / b.perRequest } : undefined;
}

function instructionVerdicts(r: Results): Verdict[] {
  const out: Verdict[] = [];
  const k = (n: number) => `${(n / 1000).toFixed(1)} k`;
  for (const phase of ["10k", "1M"] as const) {
    const hosts = phase === "10k" ? "10,000" : "1,000,000";
    const ka = instructionRatio(r, phase, "ours-balancer", "static-ka");
    if (ka) out.push({ what: `instructions per request, balancer form vs static + keepalive, ${hosts} hosts`, measured: `${k(ka.ours)} vs ${k(ka.base)} (${ka.ratio.toFixed(2)} ×)`, target: "≤ 1.05 ×", met: ka.ratio <= 1.05 });
    for (const other of ["haproxy", "lua-balancer"] as SetupId[]) {
      const o = instructionRatio(r, phase, "ours-balancer", other);
      if (o) out.push({ what: `instructions per request, balancer form vs ${other}, ${hosts} hosts`, measured: `${k(o.ours)} vs ${k(o.base)} (${o.ratio.toFixed(2)} ×)`, target: "< 1 ×", met: o.ratio < 1 });
    }
    const map = instructionRatio(r, phase, "ours-variable", "map");
    if (map) out.push({ what: `instructions per request, variable (seed) form vs map, ${hosts} hosts`, measured: `${k(map.ours)} vs ${k(map.base)} (${(map.base / map.ours).toFixed(2)} × the requests per instruction)`, target: "≥ 0.97 ×", met: map.base / map.ours >= 0.97 });
  }
  return out;
}

function memoryTable(rows: Row[]): string {
  const body = rows
    .filter((x) => x.workers === 1 && x.memory)
    .map((x) => [x.phase === "10k" ? "10,000" : "1,000,000", x.label.replace(/\$/g, "\\$"), mib(x.rssPerWorker), mib(x.memory!.private), ...MEMORY_PARTS.map((p) => mib(x.memory!.parts[p]))]);
  return table(["hosts", "setup", "RSS", "private", ...MEMORY_PARTS], body);
}

function instructionTable(r: Results): string {
  const body = r.instructions.map((x) => {
    const base = r.instructions.find((y) => y.phase === x.phase && y.setup === "static-ka");
    return [
      x.phase === "10k" ? "10,000" : "1,000,000",
      x.label.replace(/\$/g, "\\$"),
      int(x.perRequest),
      base ? (x.perRequest / base.perRequest).toFixed(2) : "–",
      ...PARTS.map((p) => (Math.abs(x.parts[p]) < 50 ? "–" : int(x.parts[p]))),
      int(x.requests),
    ];
  });
  return table(["hosts", "setup", "instructions/req", "× (1a)", ...PARTS, "requests counted"], body);
}

function verdicts(r: Results): Verdict[] {
  const out: Verdict[] = instructionVerdicts(r);
  const find = (w: number, id: SetupId) => r.rows.find((x) => x.phase === "10k" && x.workers === w && x.setup === id);
  for (const w of [1, 2]) {
    const ka = find(w, "static-ka");
    const ours = find(w, "ours-balancer");
    const map = find(w, "map");
    const oursVar = find(w, "ours-variable");
    if (ka && ours) {
      const q = rpsRatio(ours, ka);
      out.push({ what: `req/s, balancer form vs static + keepalive, ${w} worker(s)`, measured: `${q.best.toFixed(2)} × best rounds, ${q.median.toFixed(2)} × medians`, target: "≥ 0.95 ×", met: q.best >= 0.95 && q.median >= 0.95 });
      out.push({ what: `worker CPU per request (median of rounds), balancer form vs static + keepalive, ${w} worker(s)`, measured: `${cpu(ours).toFixed(1)} vs ${cpu(ka).toFixed(1)} µs (+${(cpu(ours) - cpu(ka)).toFixed(1)} µs: ${(cpu(ka) / cpu(ours)).toFixed(2)} × the requests per CPU-second)`, target: "≥ 0.95 ×", met: cpu(ka) / cpu(ours) >= 0.95 });
      const added = (ours.quiet.p99 - ka.quiet.p99) * 1000;
      out.push({ what: `added latency, 1 connection, balancer form vs (1a), ${w} worker(s)`, measured: `p50 ${Math.round((ours.quiet.p50 - ka.quiet.p50) * 1000)} µs, p99 ${Math.round(added)} µs`, target: "p99 ≤ 50 µs", met: added <= 50 });
      const others = r.rows.filter((x) => x.phase === "10k" && x.workers === w && !["static-ka", "static", "ours-balancer", "ours-variable"].includes(x.setup));
      const bestOther = others.sort((a, b) => b.rps - a.rps)[0];
      if (bestOther) {
        const o = rpsRatio(ours, bestOther);
        out.push({ what: `req/s, balancer form vs the best other router (${bestOther.label.split(" ")[0]}), ${w} worker(s)`, measured: `${o.best.toFixed(2)} × best rounds, ${o.median.toFixed(2)} × medians`, target: "> 1 ×", met: o.best > 1 && o.median > 1 });
      }
      const leanest = others.sort((a, b) => cpu(a) - cpu(b))[0];
      if (leanest) {
        out.push({ what: `worker CPU per request, balancer form vs the leanest other router (${leanest.label.split(" ")[0]}), ${w} worker(s)`, measured: `${cpu(ours).toFixed(1)} vs ${cpu(leanest).toFixed(1)} µs`, target: "less", met: cpu(ours) < cpu(leanest) });
      }
    }
    const plain = find(w, "static");
    if (plain && oursVar) {
      // Issue 4's target for the seed's form: the same transport (a new backend connection per request), no lookup.
      const q = rpsRatio(oursVar, plain);
      out.push({ what: `req/s, variable form vs static proxy_pass without keep-alive (1b), ${w} worker(s)`, measured: `${q.best.toFixed(2)} × best rounds, ${q.median.toFixed(2)} × medians`, target: "≥ 0.97 ×", met: q.best >= 0.97 && q.median >= 0.97 });
      out.push({ what: `worker CPU per request (median of rounds), variable form vs (1b), ${w} worker(s)`, measured: `${cpu(oursVar).toFixed(1)} vs ${cpu(plain).toFixed(1)} µs (${(cpu(plain) / cpu(oursVar)).toFixed(2)} ×)`, target: "≥ 0.97 ×", met: cpu(plain) / cpu(oursVar) >= 0.97 });
    }
    if (map && oursVar) {
      const q = rpsRatio(oursVar, map);
      out.push({ what: `req/s, variable form vs map, ${w} worker(s)`, measured: `${q.best.toFixed(2)} × best rounds, ${q.median.toFixed(2)} × medians`, target: "≥ 0.97 ×", met: q.best >= 0.97 && q.median >= 0.97 });
      out.push({ what: `worker CPU per request (median of rounds), variable form vs map, ${w} worker(s)`, measured: `${cpu(oursVar).toFixed(1)} vs ${cpu(map).toFixed(1)} µs (${(cpu(map) / cpu(oursVar)).toFixed(2)} ×)`, target: "≥ 0.97 ×", met: cpu(map) / cpu(oursVar) >= 0.97 });
    }
  }
  const miss = r.miss.find((m) => m.setup === "ours-balancer");
  if (miss) out.push({ what: "miss path, added latency (first request of a host)", measured: `p50 ${ms(miss.missP50 - miss.hitP50)}, p99 ${ms(miss.missP99 - miss.hitP99)}`, target: "p99 ≤ 3 ms", met: miss.missP99 - miss.hitP99 <= 3 });
  for (const p of r.propagation.filter((x) => x.setup === "ours-balancer")) {
    out.push({ what: `propagation, ${int(p.routes)} routes, ${p.workers} worker(s), worst of ${p.samples}`, measured: ms(p.allMax), target: "≤ 1 s (aim 100 ms)", met: p.allMax <= 1000 });
  }
  return out;
}

export function markdown(r: Results): string {
  const m = describeMachine();
  const v = r.versions;
  const parts: string[] = [];
  parts.push(`## Routing against the alternatives (\`bench/routing/\`)

Measured ${r.date.slice(0, 16).replace("T", " ")} UTC with \`make bench-routing\` (\`node --import=tsx bench/routing/run.ts\`), commit ${v.commit}, in ${r.durationS} s.
Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB RAM, Linux ${m.kernel}. ${v.nginx}; ${v.haproxy}; ${v.wrk}; ${v.lua}; Node ${v.node}.
Shared machine: 1/5/15-minute load average ${r.loadStart.join(" / ")} at the start, ${r.loadEnd.join(" / ")} at the end (2 cores: wrk, nginx's
workers and the backend already want more than 2; anything above that is other engineers' builds). The "load" column is the
1-minute load when that row's run began.

![requests/s per setup](benchmarks-routing.png)

Chart and tables: wrk (1 thread, 32 connections, ${r.seconds} s per run), Host spread over 1,000 distinct names, every setup alone
on the machine's loopback in turn, the same backend (a second nginx, \`return 200\`). ${r.rounds} rounds, setups in alternating order;
each row is the round with the most requests/s (all rounds in the last column). "× (1a)" / "× (1b)": requests/s over the static
upstream with / without keep-alive *of the same round set and worker count*. RSS/worker: resident memory of one worker at the end
of its run (shared-memory pages it touched included). wrk's p50/p99/p99.9 are under saturation (32 connections queueing on
2 shared cores), so they mostly measure queueing and the machine's load; what a lookup *adds* to a request is measured apart,
one request at a time on one connection (Node's http client, 3,000 requests over the same 1,000 hosts: "1 conn." columns).
"worker CPU µs/req": user + system CPU time of the front end's workers (from /proc) during the wrk run, divided by its
requests — the figure other engineers' builds do not inflate, and the fairest comparison on this machine.

### Targets

${table(
    ["what", "measured", "target", "verdict"],
    verdicts(r).map((x) => [x.what, x.measured, x.target, x.met === undefined ? "–" : x.met ? "met" : "**missed**"]),
  )}

### 10,000 registered hosts

${throughputTable(r.rows, "10k")}
`);
  if (r.instructions.length > 0) {
    parts.push(`### Instructions per request (callgrind, 1 worker)

${instructionTable(r)}

User-space instructions a front end's worker executes per request, counted by valgrind's callgrind — a count the machine's load
does not move (the same build and inputs give the same figure within about 1 %; this VM has no hardware counters for
\`perf stat\`). Each setup runs twice under callgrind with the same warm-up (every host once as a miss, once as a hit), then one run
idles while the other is loaded by wrk over one connection for the same time; the difference over the loaded run's requests is
the cost of a request, start-up and timers cancelled. The columns split it by where the code lives: nginx's own binary and modules,
ours, the filter's compiled wasm (code with no object file: JIT output — LuaJIT's traces count there too for the Lua setups), Lua's
modules, HAProxy and libc. The kernel's share (loopback TCP, epoll) is not counted: it is about the same for every nginx setup
and is most of the "worker CPU µs/req" figure, which is why the ratio of instructions is larger than the ratio of CPU time.
\`BENCH_INSTRUCTIONS=only BENCH_CALLGRIND_DIR=/tmp/cg make bench-routing\` counts without the rest and keeps the files for
\`callgrind_annotate\`.
`);
  }
  if (r.rows.some((x) => x.phase === "1M")) {
    parts.push(`### 1,000,000 registered hosts (1 worker; requests over 1,000 hosts from the middle of the table)

${throughputTable(r.rows, "1M")}
`);
  }
  if (r.rows.some((x) => x.memory)) {
    parts.push(`### What a worker's memory holds (1 worker, at the end of its best run)

${memoryTable(r.rows)}

From the worker's \`/proc/PID/smaps\` (bench/routing/smaps.ts), resident bytes by mapping: the program's binary (nginx, HAProxy) and the system libraries
it maps, our module's \`.so\` (with wasmtime and cranelift in it), the filter's machine code, the filter's linear memory (what it
touched of its reservation), the shared zones' pages this worker touched (counted in every worker, as RSS counts them), and the
malloc heap with other anonymous memory. "private": the resident pages no other process shares (Private_Clean + Private_Dirty) —
what one more worker costs; the rest (code and relocations mapped before the fork, zone pages) is shared with the master and the
other workers.
`);
  }
  parts.push(`### Miss path (first request of a host), 1 worker, 10,000 hosts

${table(
    ["setup", "hosts", "miss p50", "miss p99", "hit p50", "hit p99", "added p50", "added p99"],
    r.miss.map((x) => [x.label.replace(/\$/g, "\\$"), String(x.samples), ms(x.missP50), ms(x.missP99), ms(x.hitP50), ms(x.hitP99), ms(x.missP50 - x.hitP50), ms(x.missP99 - x.hitP99)]),
  )}

Each host once in a row on one keep-alive connection (Node's http client), on a freshly started nginx (empty cache), then the same
hosts again (cached); "added" is the difference. The Lua setup asks the same route API through \`ngx.location.capture\`.

### Propagation (change acknowledged → requests reach the new backend)

${table(
    ["setup", "routes", "workers", "samples", "first request p50", "first request worst", "every request p50", "every request worst"],
    r.propagation.map((x) => [x.label.replace(/\$/g, "\\$"), int(x.routes), String(x.workers), String(x.samples), ms(x.firstP50), ms(x.firstMax), ms(x.allP50), ms(x.allMax)]),
  )}

The change: ours — \`PUT /entries/<host>.json\` on the route API, timed from its 200; HAProxy — \`set map\` on its runtime socket,
timed from the answer; map — the whole map file written again and \`SIGHUP\` to the master, timed from the signal. Then a request every
2 ms, each on a new connection; "every request" is when 20 in a row (spread over the workers) reached the new backend. The Lua designs
have no change feed: a change reaches them when the cached entry expires (30 s here, GitHub Pages' TTL), not measured.

### Loading the routes

${table(
    ["what", "time"],
    [
      ["ours: import 10,000 routes (POST /entries/import, NDJSON)", ms(r.loads.import10k)],
      ["ours: import 1,000,000 routes", ms(r.loads.importBig)],
      ["nginx map: write the 1,000,000-line map file", ms(r.loads.mapGenerateBig)],
      ["nginx map: \`nginx -t\` with it", ms(r.loads.mapTestBig)],
      ["nginx map: start nginx with it (spawn → listening)", ms(r.loads.mapStartBig)],
      ["nginx map: reload with it (SIGHUP → first request on the new map)", ms(r.propagation.find((p) => p.setup === "map" && p.routes > 10_000)?.firstP50)],
      ["HAProxy: write the 1,000,000-line map file", ms(r.loads.haproxyMapGenerateBig)],
      ["HAProxy: start with it (spawn → listening)", ms(r.loads.haproxyStartBig)],
    ],
  )}
`);
  return parts.join("\n");
}

function chart(r: Results): void {
  const dir = mkdtempSync("/tmp/set-backend-chart-");
  try {
    const ids = [...new Set(r.rows.map((x) => x.setup))];
    const columns = [
      { name: "10k hosts, 1 worker", phase: "10k", workers: 1 },
      { name: "10k hosts, 2 workers", phase: "10k", workers: 2 },
      { name: "1M hosts, 1 worker", phase: "1M", workers: 1 },
    ].filter((c) => r.rows.some((x) => x.phase === c.phase && x.workers === c.workers));
    const lines = ids.map((id) => {
      const label = r.rows.find((x) => x.setup === id)!.label.split(" ")[0]! + " " + id;
      const cells = columns.map((c) => {
        const row = r.rows.find((x) => x.setup === id && x.phase === c.phase && x.workers === c.workers);
        return row ? Math.round(row.rps) : "-";
      });
      return `"${label}" ${cells.join(" ")}`;
    });
    writeFileSync(join(dir, "data.txt"), lines.join("\n") + "\n");
    const plot = columns.map((c, i) => `'${join(dir, "data.txt")}' using ${i + 2}${i === 0 ? ":xtic(1)" : ""} title '${c.name}'`).join(", ");
    writeFileSync(
      join(dir, "chart.gp"),
      `set terminal pngcairo size 1100,560 font ",10"
set output '${CHART}'
set title "Routing throughput, requests/s (wrk, 1,000 hosts; ${r.date.slice(0, 10)})"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set yrange [0:*]
set datafile missing '-'
set xtics rotate by -25 scale 0
set key top right
plot ${plot}
`,
    );
    execFileSync("gnuplot", [join(dir, "chart.gp")], { stdio: "inherit", timeout: 30_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function writeReport(r: Results, options: { docs: boolean }): void {
  writeFileSync(JSON_OUT, JSON.stringify(r, null, 2) + "\n");
  const md = markdown(r);
  process.stdout.write(md + "\n");
  if (!options.docs) return;
  replaceSection(DOCS, "routing", md);
  chart(r);
}
