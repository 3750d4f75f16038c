// Long-tail traffic (issue 16.5): most hosts of a hosting platform are asked
// rarely. Requests with Zipf-distributed Host headers (zipf.lua) over 1,000,000
// registered routes, and over the 100,000 hottest of them, through the balancer
// form with one shared zone — once with routes cached for feed_ttl_ms while the
// change feed is healthy (the default, 6 h) and once with every route cached
// for positive_ttl_ms only (30 s, feed_ttl_ms not above it: what the filter did
// before). Reported: hit rate (the edge metrics' waited="false" share), req/s,
// and CPU per request of nginx's workers and of the route API.
//
//   make bench-longtail     (node --import=tsx bench/longtail/run.ts)
//
// Environment: LONGTAIL_ROUTES (1000000), LONGTAIL_WARM_S (60) and LONGTAIL_SECONDS
// (30): each run warms for WARM_S, then measures SECONDS; LONGTAIL_WORKERS (2);
// LONGTAIL_ZONE (64m); BENCH_NO_DOCS=1 leaves docs/benchmarks.md alone.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { authHeaders, request, startService, type ServiceProcess } from "../../api/test/fixtures/service-process.ts";
import { cpuTimeMs, describeMachine } from "../lib/machine.ts";
import { replaceSection, table } from "../lib/report.ts";
import { BACKEND_A, BACKEND_B, backendConf, type Paths } from "../routing/configs.ts";
import { killAll, portOpen, startNginx, workersRss, type Server } from "../routing/procs.ts";
import { wrk } from "../routing/wrk.ts";
import { precompileFilter } from "../../scripts/nginx-conf.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ZIPF = fileURLToPath(new URL("./zipf.lua", import.meta.url));
const ROUTES = Number(process.env.LONGTAIL_ROUTES ?? 1_000_000);
const WARM_S = Number(process.env.LONGTAIL_WARM_S ?? 60);
const SECONDS = Number(process.env.LONGTAIL_SECONDS ?? 30);
const WORKERS = Number(process.env.LONGTAIL_WORKERS ?? 2);
const ZONE = process.env.LONGTAIL_ZONE ?? "64m";
const FRONT = 28920;
const METRICS = 28921;
const TOKEN = "bench-longtail-token-0123456789";
const MODULE = process.env.SET_BACKEND_MODULE ?? join(ROOT, "build/modules/ngx_http_set_backend.so");
const FILTER = process.env.SET_BACKEND_FILTER ?? join(ROOT, "build/resolver.wasm");
/** The filter as the workers load it: precompiled in the run's directory. */
let filter = FILTER;

const log = (msg: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)} load ${loadavg()[0]!.toFixed(2)}] ${msg}\n`);

interface Mode {
  name: string;
  /** The filter's plugin configuration besides the cluster. */
  config: Record<string, number>;
}

const MODES: Mode[] = [
  { name: "feed_ttl_ms 6 h (default)", config: {} },
  { name: "positive_ttl_ms 30 s only", config: { feed_ttl_ms: 30_000 } },
];

interface Row {
  hot: number;
  mode: string;
  rps: number;
  hitRate: number;
  misses: number;
  workerCpuUs: number;
  apiCpuUs: number;
  rssPerWorker: number;
  errors: number;
  load: number;
}

function frontConf(dir: string, socket: string, mode: Mode): string {
  const config = JSON.stringify({ resolver_cluster: "route_api", ...mode.config });
  return `load_module ${MODULE};
${process.getuid?.() === 0 ? "user root root;" : ""}
worker_processes ${WORKERS};
pid ${dir}/front.pid;
error_log ${dir}/front.error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 10000000;
  client_body_temp_path ${dir}/tmp;
  proxy_temp_path ${dir}/tmp;
  set_backend_filter ${filter};
  set_backend_filter_config '${config}';
  set_backend_shared_zone set_backend ${ZONE};
  set_backend_cluster route_api unix:${socket};
  upstream routed { set_backend_balancer; keepalive 256; }
  server {
    listen 127.0.0.1:${FRONT} backlog=4096;
    location / { set_backend $backend; proxy_pass http://routed; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
  server { listen 127.0.0.1:${METRICS}; location = /metrics { set_backend_metrics; } }
}
`;
}

/** Requests counted by the edge metrics: decided from the cache (hits) and after a lookup (misses). */
async function requestCounts(): Promise<{ hits: number; misses: number }> {
  const text = await (await fetch(`http://127.0.0.1:${METRICS}/metrics`)).text();
  let hits = 0;
  let misses = 0;
  for (const line of text.split("\n")) {
    const m = /^set_backend_requests_total\{([^}]*)\}\s+(\d+)/.exec(line);
    if (!m) continue;
    if (m[1]!.includes('waited="false"')) hits += Number(m[2]);
    else misses += Number(m[2]);
  }
  return { hits, misses };
}

async function importRoutes(api: ServiceProcess, count: number): Promise<void> {
  const lines: string[] = [];
  for (let i = 1; i <= count; i++) lines.push(JSON.stringify({ host: `site-${i}.bench.test`, backend: `127.0.0.1:${BACKEND_A}` }));
  const res = await request(api.public, "POST", "/entries/import", { headers: authHeaders(api.token, "application/x-ndjson"), body: `${lines.join("\n")}\n` });
  if (res.status !== 200) throw new Error(`import answered ${res.status}: ${res.body.slice(0, 300)}`);
}

async function measure(dir: string, api: ServiceProcess, hot: number, mode: Mode): Promise<Row> {
  const front: Server = await startNginx(dir, "front", frontConf(dir, join(dir, "api", "resolver.sock"), mode), FRONT);
  try {
    const env = { ZIPF_HOSTS: String(hot) };
    const warm = await wrk({ port: FRONT, seconds: WARM_S, connections: 32, script: ZIPF, env });
    if (warm.errors > 0) throw new Error(`warm-up: ${warm.errorDetail}`);
    const before = await requestCounts();
    const cpu = () => front.workers().reduce((sum, pid) => sum + cpuTimeMs(pid), 0);
    const cpu0 = cpu();
    const api0 = cpuTimeMs(api.child.pid!);
    const load = loadavg()[0]!;
    const r = await wrk({ port: FRONT, seconds: SECONDS, connections: 32, script: ZIPF, env: { ...env, ZIPF_SEED: "7" } });
    const after = await requestCounts();
    const hits = after.hits - before.hits;
    const misses = after.misses - before.misses;
    const row: Row = {
      hot,
      mode: mode.name,
      rps: r.rps,
      hitRate: hits / Math.max(1, hits + misses),
      misses: misses / SECONDS,
      workerCpuUs: ((cpu() - cpu0) * 1000) / Math.max(1, r.requests),
      apiCpuUs: ((cpuTimeMs(api.child.pid!) - api0) * 1000) / Math.max(1, r.requests),
      rssPerWorker: workersRss(front) / Math.max(1, front.workers().length),
      errors: r.errors,
      load: Math.round(load * 100) / 100,
    };
    log(`${hot} hot, ${mode.name}: ${Math.round(row.rps)} req/s, hit rate ${(row.hitRate * 100).toFixed(1)} %, ${Math.round(row.misses)} misses/s, worker ${row.workerCpuUs.toFixed(1)} µs/req, API ${row.apiCpuUs.toFixed(1)} µs/req`);
    return row;
  } finally {
    await front.stop();
  }
}

function markdown(rows: Row[], started: Date, durationS: number): string {
  const m = describeMachine();
  const int = (n: number) => Math.round(n).toLocaleString("en-US");
  return `## Long-tail traffic (\`bench/longtail/\`)

Measured ${started.toISOString().slice(0, 16).replace("T", " ")} UTC with \`make bench-longtail\` (\`node --import=tsx bench/longtail/run.ts\`), commit ${execFileSync("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim()}, in ${durationS} s.
Machine: ${m.cpus} × ${m.cpuModel}, shared with other work (the "load" column). ${int(ROUTES)} routes registered; the balancer form
with ${WORKERS} workers and a ${ZONE} shared zone; wrk (1 thread, 32 connections) with Host headers drawn from a Zipf distribution
(exponent 1: the k-th most popular host gets a share ∝ 1/k) over the hottest ${int(rows[0]?.hot ?? 0)} or ${int(rows.at(-1)?.hot ?? 0)} hosts; each run
starts nginx with an empty zone, warms for ${WARM_S} s, then measures ${SECONDS} s. Hit rate: requests decided from the shared zone
(\`set_backend_requests_total{waited="false"}\`) over all. CPU per request: user + system time of nginx's workers and of the route
API (which answers every miss) over the measured requests.

${table(
    ["hot hosts", "cache", "req/s", "hit rate", "misses/s", "workers CPU µs/req", "route API CPU µs/req", "RSS/worker", "errors", "load"],
    rows.map((r) => [int(r.hot), r.mode, int(r.rps), `${(r.hitRate * 100).toFixed(1)} %`, int(r.misses), r.workerCpuUs.toFixed(1), r.apiCpuUs.toFixed(1), `${(r.rssPerWorker / 2 ** 20).toFixed(1)} MiB`, String(r.errors), String(r.load)]),
  )}

With the change feed healthy, a cached route is invalidated by the feed when it changes, so its time to live is only a safety net
(\`feed_ttl_ms\`, 6 h by default); while the feed fails, entries fall back to \`positive_ttl_ms\` (30 s) from their lookup
(wasm/README.md). A ${ZONE} zone holds about 500,000 routes (\`make bench-zone\`): size it above the number of hosts asked within
\`feed_ttl_ms\`, or the LRU evicts the coldest.
`;
}

async function main(): Promise<void> {
  for (const port of [BACKEND_A, BACKEND_B, FRONT, METRICS]) {
    if (await portOpen(port)) throw new Error(`port ${port} is in use; stop what listens there first`);
  }
  const dir = mkdtempSync("/tmp/set-backend-longtail-");
  execFileSync("chmod", ["755", dir]);
  mkdirSync(join(dir, "tmp"));
  mkdirSync(join(dir, "api"));
  const started = new Date();
  let api: ServiceProcess | undefined;
  let backend: Server | undefined;
  const stop = () => {
    killAll();
    api?.child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("SIGINT", () => (stop(), process.exit(130)));
  try {
    const paths = { dir } as Paths;
    const precompiled = precompileFilter(FILTER, MODULE, dir);
    if (precompiled.error) throw new Error(`cannot precompile ${FILTER}: ${precompiled.error}`);
    filter = precompiled.path;
    backend = await startNginx(dir, "backend", backendConf(paths), BACKEND_B);
    api = await startService({ stateDir: join(dir, "api"), token: TOKEN, env: { IMPORT_LIMIT_BYTES: String(512 * 1024 * 1024), SOCKET_GROUP: "root" } });
    log(`importing ${ROUTES} routes`);
    await importRoutes(api, ROUTES);
    const rows: Row[] = [];
    for (const hot of [ROUTES, Math.min(ROUTES, 100_000)]) {
      for (const mode of MODES) rows.push(await measure(dir, api, hot, mode));
    }
    const md = markdown(rows, started, Math.round((Date.now() - started.getTime()) / 1000));
    process.stdout.write(`${md}\n`);
    if (process.env.BENCH_NO_DOCS !== "1") replaceSection(join(ROOT, "docs/benchmarks.md"), "longtail", md);
  } finally {
    await api?.kill();
    await backend?.stop();
    stop();
  }
}

main().catch((error) => {
  killAll();
  console.error(error);
  process.exit(1);
});
