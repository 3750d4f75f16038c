// Routing benchmark against the real alternatives (issue 7; issue 4's part 5):
// static upstream with and without keep-alive, nginx `map`, Lua shared-dict
// routers (access_by_lua, balancer_by_lua), HAProxy maps, and set_backend in its
// balancer and variable forms — one run, one machine, loopback only.
//
//   make bench-routing      (node --import=tsx bench/routing/run.ts)
//
// Environment: BENCH_SECONDS (per wrk run, default 6), BENCH_ROUNDS (default 3;
// the best round per setup is reported), BENCH_MILLION=0 skips the 1,000,000-host
// phase, BENCH_NO_DOCS=1 leaves docs/benchmarks.md alone, BENCH_ONLY=id,id runs those
// setups only, SET_BACKEND_MODULE / SET_BACKEND_FILTER test other builds, BENCH_PROFILE=1 profiles them with perf instead (one worker each).
// BENCH_INSTRUCTIONS=0 skips the instruction counts (valgrind), =only runs nothing else;
// BENCH_INSTRUCTION_SECONDS (default 5) is the loaded run's length under callgrind.
// Every process it starts is stopped at the end (or on a failure or a signal);
// its files live in /tmp/set-backend-routing-*, removed afterwards.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { authHeaders, request, startService, type ServiceProcess } from "../../api/test/fixtures/service-process.ts";
import { BACKEND_A, BACKEND_B, FRONT, SETUPS, backendConf, haproxyConf, nginxConf, type Paths, type Setup, type SetupId } from "./configs.ts";
import { get, percentile, propagation, sequentialLatencies, type Propagation } from "./probes.ts";
import { haproxyCommand, killAll, portOpen, startHaproxy, startNginx, workersRss, type Server } from "./procs.ts";
import { cpuTimeMs } from "../lib/machine.ts";
import { countInstructions } from "./instructions.ts";
import { profile } from "./profile.ts";
import { memoryBreakdown } from "./smaps.ts";
import { precompileFilter } from "../../scripts/nginx-conf.ts";
import { writeReport, type Results, type Row } from "./report.ts";
import { wrk } from "./wrk.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const MILLION = process.env.BENCH_MILLION !== "0";
const ONLY = process.env.BENCH_ONLY?.split(",") as SetupId[] | undefined;
const SMALL = 10_000;
const BIG = 1_000_000;
const SPREAD = 1_000; // distinct hosts in the request mix
const INSTRUCTIONS = process.env.BENCH_INSTRUCTIONS ?? "1";
const INSTRUCTION_SECONDS = Number(process.env.BENCH_INSTRUCTION_SECONDS ?? 5);
const TOKEN = "bench-routing-token-0123456789";
const A = `127.0.0.1:${BACKEND_A}`;
const B = `127.0.0.1:${BACKEND_B}`;

const hostName = (i: number) => `site-${i}.bench.test`;
const load1 = () => Math.round(loadavg()[0]! * 100) / 100;
const log = (msg: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)} load ${load1()}] ${msg}\n`);

function mapLines(count: number, moved: Map<string, string> = new Map()): string {
  const lines: string[] = [];
  for (let i = 1; i <= count; i++) lines.push(`${hostName(i)} ${moved.get(hostName(i)) ?? A};`);
  return lines.join("\n") + "\n";
}

function haproxyMapLines(count: number): string {
  const lines: string[] = [];
  for (let i = 1; i <= count; i++) lines.push(`${hostName(i)} ${A}`);
  return lines.join("\n") + "\n";
}

function ndjson(count: number): string {
  const lines: string[] = [];
  for (let i = 1; i <= count; i++) lines.push(JSON.stringify({ host: hostName(i), backend: A }));
  return lines.join("\n") + "\n";
}

function version(command: string, args: string[]): string {
  // nginx -v writes to stderr, wrk -v exits with 1: take the first line printed anywhere.
  const out = spawnSync(command, args, { encoding: "utf8", timeout: 10_000 });
  return `${out.stdout ?? ""}${out.stderr ?? ""}`.split("\n")[0]!.trim() || "unknown";
}

function debVersion(pkg: string): string {
  try {
    return execFileSync("dpkg-query", ["-W", "-f=${Version}", pkg], { encoding: "utf8" }).trim();
  } catch {
    return "not installed";
  }
}

async function importRoutes(api: ServiceProcess, count: number): Promise<number> {
  const body = ndjson(count);
  const t0 = performance.now();
  const res = await request(api.public, "POST", "/entries/import", { headers: authHeaders(api.token, "application/x-ndjson"), body });
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`import of ${count} routes answered ${res.status}: ${res.body.slice(0, 500)}`);
  return ms;
}

async function startSetup(setup: Setup, workers: number, paths: Paths): Promise<Server> {
  if (setup.kind === "haproxy") return startHaproxy(paths.dir, "haproxy", haproxyConf(workers, paths), FRONT);
  return startNginx(paths.dir, `front-${setup.id}`, nginxConf(setup.id, workers, paths), FRONT);
}

function errorLogTail(paths: Paths): string {
  const file = join(paths.dir, "front.error.log");
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").slice(-15).join("\n") : "(none)";
}

/** Fills caches and keep-alive pools, then checks that the hosts reach backend A. */
async function warm(setup: Setup, firstHost: number): Promise<void> {
  await wrk({ port: FRONT, seconds: setup.usesApi ? 2 : 1, connections: 4, hosts: SPREAD, firstHost });
  for (let i = 0; i < 10; i++) {
    const answer = await get(FRONT, hostName(firstHost + i * 97));
    if (answer.status !== 200 || answer.body !== "a\n") throw new Error(`${setup.id}: ${hostName(firstHost + i * 97)} answered ${answer.status} ${JSON.stringify(answer.body.slice(0, 200))}`);
  }
}

async function measure(setup: Setup, workers: number, paths: Paths, phase: Row["phase"], firstHost: number): Promise<Row> {
  const server = await startSetup(setup, workers, paths);
  try {
    await warm(setup, firstHost).catch((error: Error) => {
      throw new Error(`${error.message}\nfront error log:\n${errorLogTail(paths)}`);
    });
    const load = load1();
    // CPU time the workers spend per request: unlike req/s, other work on the machine does not inflate it.
    const cpu = () => server.workers().reduce((sum, pid) => sum + cpuTimeMs(pid), 0);
    const cpu0 = cpu();
    const r = await wrk({ port: FRONT, seconds: SECONDS, hosts: SPREAD, firstHost });
    const cpuPerRequest = ((cpu() - cpu0) * 1000) / Math.max(1, r.requests);
    const rss = workersRss(server);
    const count = server.workers().length || 1;
    const memory = workers === 1 ? memoryBreakdown(server.workers()[0]!) : undefined;
    // Latency without saturation: one request at a time on one connection, 3 × the 1,000 hosts.
    const hosts = Array.from({ length: 3 * SPREAD }, (_, i) => hostName(firstHost + (i % SPREAD)));
    const quiet = await sequentialLatencies(FRONT, hosts);
    const q = { p50: percentile(quiet, 50), p99: percentile(quiet, 99), p999: percentile(quiet, 99.9) };
    log(`${phase} ${workers}w ${setup.id}: ${Math.round(r.rps)} req/s p50 ${r.p50} µs p99 ${r.p99} µs p99.9 ${r.p999} µs errors ${r.errors}${r.errors ? ` (${r.errorDetail})` : ""}; CPU ${cpuPerRequest.toFixed(1)} µs/req; 1 connection p50 ${q.p50.toFixed(3)} p99 ${q.p99.toFixed(3)} ms`);
    return { phase, workers, setup: setup.id, label: setup.label, ...r, cpuPerRequest, quiet: q, rssPerWorker: rss / count, memory, load, startMs: server.startMs, testMs: server.testMs };
  } finally {
    await server.stop();
  }
}

async function throughput(paths: Paths, phase: Row["phase"], workerCounts: number[], setups: Setup[], firstHost: number): Promise<Row[]> {
  const best = new Map<string, Row>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const workers of workerCounts) {
      // Alternate the order between rounds so that drift in the machine's load does not favour one end.
      const order = round % 2 === 0 ? setups : [...setups].reverse();
      for (const setup of order) {
        const row = await measure(setup, workers, paths, phase, firstHost);
        const key = `${workers}/${setup.id}`;
        row.runs = [...(best.get(key)?.runs ?? []), Math.round(row.rps)];
        row.cpuRuns = [...(best.get(key)?.cpuRuns ?? []), row.cpuPerRequest];
        if (!best.has(key) || row.rps > best.get(key)!.rps) best.set(key, row);
        else Object.assign(best.get(key)!, { runs: row.runs, cpuRuns: row.cpuRuns });
      }
    }
  }
  return [...best.values()];
}

/** Worker instructions per request of each setup (instructions.ts), with 1 worker. */
async function instructions(paths: Paths, phase: Results["instructions"][number]["phase"], setups: Setup[], firstHost: number): Promise<Results["instructions"]> {
  const rows: Results["instructions"] = [];
  const hosts = Array.from({ length: SPREAD }, (_, i) => hostName(firstHost + i));
  for (const setup of setups) {
    const count = await countInstructions(setup, paths, hosts, INSTRUCTION_SECONDS);
    log(`${phase} instructions ${setup.id}: ${Math.round(count.perRequest)} per request over ${count.requests} requests`);
    rows.push({ phase, setup: setup.id, label: setup.label, ...count });
  }
  return rows;
}

async function missPath(setup: Setup, paths: Paths): Promise<Results["miss"][number]> {
  const server = await startSetup(setup, 1, paths);
  try {
    const hosts = Array.from({ length: 1000 }, (_, i) => hostName(5001 + i));
    const miss = await sequentialLatencies(FRONT, hosts);
    const hit = await sequentialLatencies(FRONT, hosts);
    const result = {
      setup: setup.id,
      label: setup.label,
      samples: hosts.length,
      missP50: percentile(miss, 50),
      missP99: percentile(miss, 99),
      hitP50: percentile(hit, 50),
      hitP99: percentile(hit, 99),
      load: load1(),
    };
    log(`miss path ${setup.id}: miss p50 ${result.missP50.toFixed(3)} p99 ${result.missP99.toFixed(3)} ms; hit p50 ${result.hitP50.toFixed(3)} p99 ${result.hitP99.toFixed(3)} ms`);
    return result;
  } finally {
    await server.stop();
  }
}

async function propagationOf(setup: Setup, workers: number, paths: Paths, api: ServiceProcess, routes: number, samples: number, firstHost: number): Promise<Results["propagation"][number]> {
  const server = await startSetup(setup, workers, paths);
  const runs: Propagation[] = [];
  try {
    await warm(setup, 1);
    for (let s = 0; s < samples; s++) {
      const host = hostName(firstHost + s);
      // The host is routed (and, where there is a cache, cached) before the change.
      const before = await get(FRONT, host);
      if (before.body !== "a\n") throw new Error(`${setup.id}: ${host} answered ${JSON.stringify(before.body)} before the change`);
      let change: () => Promise<void>;
      if (setup.id === "map") {
        // What a configuration generator does: write the whole map again, then reload.
        change = async () => {
          writeFileSync(paths.mapFile, mapLines(routes, new Map([[host, B]])));
          process.kill(server.pid, "SIGHUP");
        };
      } else if (setup.id === "haproxy") {
        change = async () => {
          const answer = await haproxyCommand(paths.haproxySocket, `set map ${paths.haproxyMap} ${host} ${B}`);
          if (answer.trim() !== "") throw new Error(`haproxy set map: ${answer}`);
        };
      } else {
        change = async () => {
          const res = await request(api.public, "PUT", `/entries/${host}.json`, { headers: authHeaders(api.token), body: JSON.stringify({ backend: B }) });
          if (res.status !== 200) throw new Error(`PUT ${host} answered ${res.status}: ${res.body}`);
        };
      }
      const t0 = performance.now();
      const run = await propagation(FRONT, host, "b\n", change, 60_000);
      runs.push({ firstMs: run.firstMs, allMs: run.allMs });
      log(`propagation ${setup.id} ${workers}w ${host}: first ${run.firstMs.toFixed(1)} ms, all ${run.allMs.toFixed(1)} ms (total ${(performance.now() - t0).toFixed(0)} ms)`);
      if (setup.id === "map") await sleep(500); // let the old workers leave before the next reload
    }
    return {
      setup: setup.id,
      label: setup.label,
      workers,
      routes,
      samples: runs.length,
      firstP50: percentile(runs.map((r) => r.firstMs), 50),
      firstMax: Math.max(...runs.map((r) => r.firstMs)),
      allP50: percentile(runs.map((r) => r.allMs), 50),
      allMax: Math.max(...runs.map((r) => r.allMs)),
    };
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  const paths0 = {
    module: process.env.SET_BACKEND_MODULE ?? join(ROOT, "build/modules/ngx_http_set_backend.so"),
    filter: process.env.SET_BACKEND_FILTER ?? join(ROOT, "build/resolver.wasm"),
  };
  for (const f of [paths0.module, paths0.filter, "/usr/bin/wrk", ...(INSTRUCTIONS === "0" ? [] : ["/usr/bin/valgrind"]), "/usr/sbin/nginx", "/usr/sbin/haproxy", "/usr/lib/nginx/modules/ngx_http_lua_module.so", "/usr/share/lua/5.1/ngx/balancer.lua"]) {
    if (!existsSync(f)) throw new Error(`${f} is missing (make build; make bench-deps)`);
  }
  // A listener left over from an interrupted run would take part of the traffic: refuse to start.
  for (const port of [BACKEND_A, BACKEND_B, FRONT]) {
    if (await portOpen(port)) throw new Error(`port ${port} is in use (a previous run's nginx?); stop it first`);
  }
  const dir = mkdtempSync("/tmp/set-backend-routing-");
  execFileSync("chmod", ["755", dir]);
  mkdirSync(join(dir, "tmp"));
  mkdirSync(join(dir, "api"));
  // Ours load the filter precompiled, as make run and the packages do.
  const filter = precompileFilter(paths0.filter, paths0.module, dir);
  if (filter.error) throw new Error(`cannot precompile ${paths0.filter}: ${filter.error}`);
  const paths: Paths = {
    dir,
    ...paths0,
    filter: filter.path,
    apiSocket: join(dir, "api", "resolver.sock"),
    mapFile: join(dir, "hosts.map.conf"),
    haproxyMap: join(dir, "hosts.haproxy.map"),
    haproxySocket: join(dir, "haproxy.sock"),
  };
  const started = new Date();
  const results: Results = {
    date: started.toISOString(),
    seconds: SECONDS,
    rounds: ROUNDS,
    loadStart: loadavg().map((l) => Math.round(l * 100) / 100),
    loadEnd: [],
    durationS: 0,
    versions: {
      nginx: version("/usr/sbin/nginx", ["-v"]),
      haproxy: version("/usr/sbin/haproxy", ["-v"]),
      wrk: version("wrk", ["-v"]),
      lua: `libnginx-mod-http-lua ${debVersion("libnginx-mod-http-lua")}, lua-resty-core ${debVersion("lua-resty-core")}, LuaJIT (OpenResty fork) ${debVersion("libluajit2-5.1-2:amd64")}`,
      node: process.version,
      commit: version("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]),
    },
    rows: [],
    instructions: [],
    miss: [],
    propagation: [],
    loads: {},
  };
  let api: ServiceProcess | undefined;
  const onSignal = () => {
    killAll();
    api?.child.kill("SIGKILL");
    if (process.env.BENCH_KEEP !== "1") rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let backend: Server | undefined;
  try {
    backend = await startNginx(dir, "backend", backendConf(paths), BACKEND_B);
    api = await startService({
      stateDir: join(dir, "api"),
      token: TOKEN,
      env: { IMPORT_LIMIT_BYTES: String(512 * 1024 * 1024), SOCKET_GROUP: "root" },
    });
    const setups = SETUPS.filter((s) => !ONLY || ONLY.includes(s.id));

    // --- 10,000 routes -------------------------------------------------------
    log(`importing ${SMALL} routes`);
    results.loads.import10k = await importRoutes(api, SMALL);
    writeFileSync(paths.mapFile, mapLines(SMALL));
    writeFileSync(paths.haproxyMap, haproxyMapLines(SMALL));
    if (process.env.BENCH_PROFILE === "1") {
      process.stdout.write(await profile(setups, paths, SECONDS, (setup) => warm(setup, 1)));
      return;
    }
    if (INSTRUCTIONS !== "0") results.instructions.push(...(await instructions(paths, "10k", setups, 1)));
    const bigSetups = setups.filter((s) => ["static-ka", "map", "lua-balancer", "haproxy", "ours-balancer", "ours-variable"].includes(s.id));
    const loadMillion = async () => {
      log(`importing ${BIG} routes`);
      results.loads.importBig = await importRoutes(api!, BIG);
      let t0 = performance.now();
      writeFileSync(paths.mapFile, mapLines(BIG));
      results.loads.mapGenerateBig = performance.now() - t0;
      t0 = performance.now();
      writeFileSync(paths.haproxyMap, haproxyMapLines(BIG));
      results.loads.haproxyMapGenerateBig = performance.now() - t0;
    };
    if (INSTRUCTIONS === "only") {
      if (MILLION) {
        await loadMillion();
        results.instructions.push(...(await instructions(paths, "1M", bigSetups, 500_001)));
      }
      results.durationS = Math.round((Date.now() - started.getTime()) / 1000);
      writeReport(results, { docs: false });
      return;
    }
    results.rows.push(...(await throughput(paths, "10k", [1, 2], setups, 1)));

    for (const id of ["ours-balancer", "lua-access"] as SetupId[]) {
      const setup = setups.find((s) => s.id === id);
      if (setup) results.miss.push(await missPath(setup, paths));
    }
    let firstHost = 101;
    for (const id of ["ours-balancer", "haproxy", "map"] as SetupId[]) {
      const setup = setups.find((s) => s.id === id);
      if (!setup) continue;
      results.propagation.push(await propagationOf(setup, 2, paths, api, SMALL, id === "map" ? 5 : 10, firstHost));
      firstHost += 100;
    }

    // --- 1,000,000 routes ----------------------------------------------------
    if (MILLION) {
      await loadMillion();
      // Requests spread over 1,000 hosts from the middle of the table.
      if (INSTRUCTIONS !== "0") results.instructions.push(...(await instructions(paths, "1M", bigSetups, 500_001)));
      const rows = await throughput(paths, "1M", [1], bigSetups, 500_001);
      results.rows.push(...rows);
      results.loads.mapStartBig = rows.find((r) => r.setup === "map")?.startMs;
      results.loads.mapTestBig = rows.find((r) => r.setup === "map")?.testMs;
      results.loads.haproxyStartBig = rows.find((r) => r.setup === "haproxy")?.startMs;
      const mapSetup = setups.find((s) => s.id === "map");
      if (mapSetup) results.propagation.push(await propagationOf(mapSetup, 1, paths, api, BIG, 2, 600_001));
      const haSetup = setups.find((s) => s.id === "haproxy");
      if (haSetup) results.propagation.push(await propagationOf(haSetup, 1, paths, api, BIG, 5, 600_101));
      const ours = setups.find((s) => s.id === "ours-balancer");
      if (ours) results.propagation.push(await propagationOf(ours, 1, paths, api, BIG, 5, 600_201));
    }
    results.loadEnd = loadavg().map((l) => Math.round(l * 100) / 100);
    results.durationS = Math.round((Date.now() - started.getTime()) / 1000);
    writeReport(results, { docs: process.env.BENCH_NO_DOCS !== "1" });
    log(`done in ${results.durationS} s`);
  } finally {
    await api?.kill();
    await backend?.stop();
    killAll();
    if (process.env.BENCH_KEEP !== "1") rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  killAll();
  console.error(error);
  process.exit(1);
});
