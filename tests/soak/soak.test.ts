// A soak of `make run`'s system (scripts/run.ts, as tests/e2e/launcher.ts starts
// it) with its cache zone made small so that it is full: mixed traffic for
// SOAK_SECONDS — cached hosts, never-seen hosts (misses: negative answers, and
// positive ones under a wildcard), routes changed every few milliseconds, a
// reload every few seconds — and then: no request that should have succeeded
// failed, no worker crashed, and memory stopped growing (the curve is printed).
//
// `make test` runs it for 60 s; `make soak` for SOAK_SECONDS (default 600).
// The other knobs: SOAK_ZONE (512k), SOAK_RELOAD_MS (6000: longer than SOAK_RELOAD_LAG_MS, so that the 1 s bound is checked between reloads), SOAK_CHANGE_MS (5),
// SOAK_LAG_MS (1000: README's "live on every worker within a second"),
// SOAK_CONCURRENCY (8 clients), SOAK_SEED (replays a run's choices).
import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import test from "ava";
import { startLauncher } from "../e2e/launcher.ts";
import { until } from "../lib/wait.ts";
import { freePort, send } from "../lib/net.ts";
import { curve, describeGrowth, growth, SERIES, type MemorySample } from "./memory.ts";
import { currentWorkers, rssBytes } from "./procs.ts";
import { seededRandom } from "../lib/random.ts";
import { Client, RouteHistory, startBackend, type Answer, type Backend } from "./traffic.ts";

const env = process.env;
const SECONDS = Number(env.SOAK_SECONDS ?? 60);
const ZONE = env.SOAK_ZONE ?? "512k";
const RELOAD_MS = Number(env.SOAK_RELOAD_MS ?? 6000);
const CHANGE_MS = Number(env.SOAK_CHANGE_MS ?? 5);
const LAG_MS = Number(env.SOAK_LAG_MS ?? 1000);
// A reload replaces the worker holding the change feed's lease; another takes
// it over within lease_ttl_ms (3 s, wasm/README.md): within this long of a
// reload a change may take that much longer to arrive.
const RELOAD_LAG_MS = Number(env.SOAK_RELOAD_LAG_MS ?? 4000);
const CONCURRENCY = Number(env.SOAK_CONCURRENCY ?? 8);
const SEED = Number(env.SOAK_SEED ?? Math.floor(Math.random() * 2 ** 32));

const CACHED_HOSTS = 200;
const CHURNED_HOSTS = 16;
const BACKENDS = 6;
const kinds = ["cached", "churned", "unseen", "wildcard"] as const;
type Kind = (typeof kinds)[number];
// Share of requests of each kind.
const MIX: [Kind, number][] = [
  ["cached", 0.45],
  ["churned", 0.25],
  ["unseen", 0.2],
  ["wildcard", 0.1],
];

const sizeBytes = (size: string) => Number.parseInt(size, 10) * ({ k: 1024, m: 1024 ** 2 }[size.slice(-1).toLowerCase()] ?? 1);
const sampleOf = (metrics: string, series: string) =>
  metrics
    .split("\n")
    .filter((l) => l.startsWith(series))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);

interface Failure {
  kind: string;
  host: string;
  at: number;
  what: string;
}

test("mixed traffic, route changes and reloads with a full zone: every request answered right, no crash, memory flat", async (t) => {
  t.timeout((SECONDS + 300) * 1000);
  t.log(`seed ${SEED} (SOAK_SEED=${SEED} replays the choices), ${SECONDS} s, zone ${ZONE}, reload every ${RELOAD_MS} ms, a route change every ${CHANGE_MS} ms, lag bound ${LAG_MS} ms, ${CONCURRENCY} clients`);
  const random = seededRandom(SEED);
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
  const runId = SEED.toString(36);

  const metricsPort = await freePort();
  const run = await startLauncher(t, { METRICS_PORT: String(metricsPort), LOG_LEVEL: "warn" });
  const master = Number(readFileSync(join(run.stateDir, "nginx.pid"), "utf8"));
  const api = Number((await run.waitForOutput(/route API started \(pid (\d+)\)/, "the API's pid"))[1]);
  const metrics = async () => (await send(metricsPort, "127.0.0.1", "/metrics")).body;

  // The zone made small, so that never-seen hosts fill it within seconds: make
  // run's nginx.conf with that one line changed, and a reload.
  const confPath = join(run.stateDir, "nginx.conf");
  const conf = readFileSync(confPath, "utf8");
  const small = conf.replace(/set_backend_shared_zone(\s+)set_backend\s+\S+;/, `set_backend_shared_zone$1set_backend ${ZONE};`);
  t.not(small, conf, "make run's nginx.conf declares the zone");
  writeFileSync(confPath, small);
  process.kill(master, "SIGHUP");
  await until(async () => sampleOf(await metrics(), 'set_backend_zone_bytes{state="total"}') === sizeBytes(ZONE), `the ${ZONE} zone`, 30_000);

  const backends: Backend[] = [];
  for (let i = 0; i < BACKENDS; i++) backends.push(await startBackend(`b${i}`));
  const wildcard = await startBackend("wildcard");
  t.teardown(() => Promise.all([...backends, wildcard].map((b) => b.close())));
  const addressOf = new Map([...backends, wildcard].map((b) => [b.name, b.address]));

  const cached = Array.from({ length: CACHED_HOSTS }, (_, i) => ({ host: `c${i}.soak.test`, backend: backends[i % BACKENDS]!.name }));
  const churned = Array.from({ length: CHURNED_HOSTS }, (_, i) => `r${i}.soak.test`);
  const routes = [
    ...cached.map(({ host, backend }) => ({ host, backend: addressOf.get(backend)! })),
    ...churned.map((host) => ({ host, backend: backends[0]!.address })),
    { host: "*.wild.soak.test", backend: wildcard.address },
  ];
  for (const route of routes) {
    const reply = await run.manage("PUT", `/entries/${route.host}.json`, { backend: route.backend });
    t.true(reply.status === 200 || reply.status === 201, `route ${route.host}: ${reply.status} ${reply.body}`);
  }
  const histories = new Map(churned.map((host) => [host, new RouteHistory(backends[0]!.name)]));

  const client = new Client(run.port, CONCURRENCY * 2);
  const manager = new Client(run.port, 8);
  t.teardown(() => (client.close(), manager.close()));
  const auth = { Authorization: `Bearer ${run.token()}`, "Content-Type": "application/json" };

  // Warm-up: never-seen hosts until the zone evicts, i.e. it is full.
  let unseenSeq = 0;
  const unseenHost = () => `u${unseenSeq++}-${runId}.unseen.test`;
  const warmStart = performance.now();
  await until(
    async () => {
      await Promise.all(Array.from({ length: 200 }, () => client.send(unseenHost())));
      return sampleOf(await metrics(), "set_backend_zone_evictions_total") > 0;
    },
    "the zone to be full",
    180_000,
  );
  t.log(`zone full after ${unseenSeq} never-seen hosts in ${((performance.now() - warmStart) / 1000).toFixed(1)} s`);

  const counts = Object.fromEntries(kinds.map((k) => [k, { requests: 0, failures: 0, retried: 0 }])) as Record<Kind, { requests: number; failures: number; retried: number }>;
  const failures: Failure[] = [];
  const changes = { put: 0, delete: 0, failed: 0 };
  const reloadTimes: number[] = [];
  const lastReloadBefore = (time: number) => reloadTimes.reduce((last, r) => (r <= time ? r : last), -Infinity);
  // The oldest route a churned host's request got, apart from and within a reload's window.
  const staleness = {
    worst: 0,
    worstNearReload: 0,
    staleAnswers: 0,
    record(ms: number, nearReload: boolean) {
      if (ms > 0) this.staleAnswers++;
      if (nearReload) this.worstNearReload = Math.max(this.worstNearReload, ms);
      else this.worst = Math.max(this.worst, ms);
    },
  };
  const workerPids = new Set<number>();
  const samples: MemorySample[] = [];
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const deadline = SECONDS * 1000;
  const running = () => now() < deadline;
  const fail = (kind: string, host: string, what: string) => failures.push({ kind, host, at: now(), what });

  // What each kind must get.
  const check = (kind: Kind, host: string, answer: Answer, start: number, end: number): string | undefined => {
    const got = answer.backend ?? (answer.status === 404 ? "the 404 page" : `status ${answer.status}`);
    if (answer.status >= 500) return `status ${answer.status}: ${answer.body.replace(/\s+/g, " ").slice(0, 160)}`;
    switch (kind) {
      case "cached": {
        const expected = cached.find((c) => c.host === host)!.backend;
        return answer.status === 200 && answer.backend === expected ? undefined : `expected ${expected}, got ${got}`;
      }
      case "wildcard":
        return answer.status === 200 && answer.backend === "wildcard" ? undefined : `expected wildcard, got ${got}`;
      case "unseen":
        return answer.status === 404 && answer.backend === undefined ? undefined : `expected the 404 page, got ${got}`;
      case "churned": {
        const value = answer.status === 200 ? (answer.backend ?? "?") : answer.status === 404 && answer.backend === undefined ? null : `status ${answer.status}`;
        const stale = histories.get(host)!.staleness(value, start, end);
        const sinceReload = start - lastReloadBefore(start);
        const bound = sinceReload < RELOAD_LAG_MS ? RELOAD_LAG_MS : LAG_MS;
        staleness.record(stale, sinceReload < RELOAD_LAG_MS);
        if (stale <= bound) return undefined;
        return `got ${value ?? "the 404 page"}, replaced ${stale === Infinity ? "never (not a backend of this host)" : `${Math.round(stale)} ms before the request`} (bound ${bound} ms, ${Math.round(sinceReload)} ms after a reload)`;
      }
    }
  };

  const hostFor = (kind: Kind): string => {
    switch (kind) {
      case "cached":
        return pick(cached).host;
      case "churned":
        return pick(churned);
      case "unseen":
        return unseenHost();
      case "wildcard":
        return `w${unseenSeq++}-${runId}.wild.soak.test`;
    }
  };
  const kindOf = () => {
    let r = random();
    for (const [kind, share] of MIX) if ((r -= share) < 0) return kind;
    return "cached";
  };

  const requester = async () => {
    while (running()) {
      const kind = kindOf();
      const host = hostFor(kind);
      counts[kind].requests++;
      const start = now();
      try {
        const answer = await client.send(host, { path: `/${kind}` });
        if (answer.retried) counts[kind].retried++;
        const wrong = check(kind, host, answer, start, now());
        if (wrong) (counts[kind].failures++, fail(kind, host, wrong));
      } catch (error) {
        counts[kind].failures++;
        fail(kind, host, `no answer: ${(error as Error).message}`);
      }
    }
  };

  const writes = new Set<Promise<void>>();
  const changer = async () => {
    while (running()) {
      await sleep(CHANGE_MS);
      if (writes.size >= 4) continue;
      const idle = churned.filter((h) => !histories.get(h)!.inFlight);
      if (idle.length === 0) continue;
      const host = pick(idle);
      const history = histories.get(host)!;
      const remove = history.current !== null && random() < 0.2;
      const value = remove ? null : pick(backends.filter((b) => b.name !== history.current)).name;
      const change = history.send(value, now());
      const path = `/entries/${host}.json`;
      const write = (async () => {
        try {
          const answer = value === null
            ? await manager.send("api.localhost", { method: "DELETE", path, headers: auth })
            : await manager.send("api.localhost", { method: "PUT", path, headers: auth, body: JSON.stringify({ backend: addressOf.get(value) }) });
          if (answer.status < 200 || answer.status > 299) (changes.failed++, fail("change", host, `${value === null ? "DELETE" : "PUT"}: ${answer.status} ${answer.body.slice(0, 120)}`));
          else value === null ? changes.delete++ : changes.put++;
        } catch (error) {
          changes.failed++;
          fail("change", host, `no answer: ${(error as Error).message}`);
        }
        change.ackedAt = now();
        history.prune(now() - 120_000);
      })();
      writes.add(write);
      void write.finally(() => writes.delete(write));
    }
  };

  const reloader = async () => {
    while (running()) {
      await sleep(RELOAD_MS);
      if (!running()) break;
      reloadTimes.push(now());
      process.kill(master, "SIGHUP");
    }
  };

  const sampler = async () => {
    while (running()) {
      const workers = currentWorkers(master);
      workers.forEach((pid) => workerPids.add(pid));
      const rss = workers.map((pid) => rssBytes(pid) ?? 0);
      const text = await metrics().catch(() => "");
      samples.push({
        t: now() / 1000,
        master: rssBytes(master) ?? 0,
        workerMax: Math.max(0, ...rss),
        workerSum: rss.reduce((a, b) => a + b, 0),
        api: rssBytes(api) ?? 0,
        zoneEntries: sampleOf(text, "set_backend_zone_entries"),
        evictions: sampleOf(text, "set_backend_zone_evictions_total"),
        failures: failures.length,
        load: Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]),
      });
      await sleep(1000);
    }
  };

  await Promise.all([...Array.from({ length: CONCURRENCY }, requester), changer(), reloader(), sampler()]);
  await Promise.all(writes);
  const seconds = now() / 1000;

  // After the run: the edge's own account, and the processes.
  const final = await metrics();
  const errors = sampleOf(final, 'set_backend_requests_total{waited="false",result="error"') + sampleOf(final, 'set_backend_requests_total{waited="true",result="error"');
  const traps = sampleOf(final, "set_backend_filter_traps_total");
  const output = run.output();
  const crashes = output.match(/worker process \d+ exited on signal \d+.*|worker process \d+ exited with code [1-9]\d*/g) ?? [];
  const total = kinds.reduce((n, k) => n + counts[k].requests, 0);

  t.log(`${total} requests in ${seconds.toFixed(0)} s (${(total / seconds).toFixed(0)}/s), load average ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
  for (const kind of kinds) t.log(`  ${kind.padEnd(8)} ${String(counts[kind].requests).padStart(8)} requests, ${counts[kind].failures} failed, ${counts[kind].retried} sent again after nginx closed the connection unanswered`);
  t.log(`route changes: ${changes.put} PUT, ${changes.delete} DELETE, ${changes.failed} failed; ${reloadTimes.length} reloads; ${workerPids.size} worker processes seen`);
  t.log(`churned hosts: ${staleness.staleAnswers} answers from a route already replaced; the oldest ${Math.round(staleness.worst)} ms, within ${RELOAD_LAG_MS} ms of a reload ${Math.round(staleness.worstNearReload)} ms`);
  t.log(`edge: ${errors} module errors (500), ${traps} filter traps; ${crashes.length} worker crashes`);
  const lookups = ["found", "not_found", "unresolvable", "failed"].map((r) => `${sampleOf(final, `set_backend_filter_lookups_${r}_total`)} ${r.replace("_", " ")}`);
  t.log(`route API lookups by the filter (current workers): ${lookups.join(", ")}; ${sampleOf(final, "set_backend_filter_stale_served_total")} stale served`);
  const byReason = new Map<string, number>();
  for (const f of failures) {
    const reason = `${f.kind}: ${f.what.replace(/\d+/g, "N").replace(/(status N).*/s, "$1").replace(/, replaced.*/, ", stale beyond its bound")}`;
    byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
  }
  for (const [reason, n] of byReason) t.log(`  ${n} × ${reason}`);
  if (failures.length > 0) {
    // The system's own account of the trouble: make run's output (API and nginx) kept for reading.
    const logFile = join(tmpdir(), `set-backend-soak-${SEED}.log`);
    writeFileSync(logFile, output);
    const complaints = output.split("\n").filter((l) => /error|warn|fail|crit|alert|emerg/i.test(l));
    t.log(`make run's output is in ${logFile}; its first complaints:\n${complaints.slice(0, 15).join("\n")}`);
  }
  for (const f of failures.slice(0, 20)) t.log(`  FAILED at ${(f.at / 1000).toFixed(2)} s: ${f.kind} ${f.host}: ${f.what}`);
  t.log(`memory (peaks per slice, MiB):\n${curve(samples)}`);
  const growths = SERIES.map((s) => growth(samples, s, 1.15, (s === "api" ? 16 : 4) * 1024 * 1024));
  for (const g of growths) t.log(`  ${describeGrowth(g)}${g.ok ? "" : "  <-- GROWING"}`);

  t.deepEqual(failures.slice(0, 20), [], `${failures.length} failed requests or changes`);
  t.deepEqual(crashes, [], "workers crashed");
  t.notRegex(output, /route API exited/, "the route API died");
  t.is(errors, 0, "the module answered 500");
  t.is(traps, 0, "the filter trapped");
  t.true(reloadTimes.length >= Math.floor(SECONDS * 1000 / RELOAD_MS) - 1, "reloads happened");
  t.true(changes.put + changes.delete > 0 && counts.unseen.requests > 0, "every kind of traffic ran");
  t.true(samples.at(-1)!.evictions > samples[0]!.evictions, "the zone stayed full (it evicted during the run)");
  for (const g of growths) t.true(g.ok, describeGrowth(g));
});
