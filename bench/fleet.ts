// The fleet on etcd against one machine on LMDB (issue 12, item 8):
//
// - propagation: from a write's acknowledgement by edge A's route API until
//   edge B's nginx routes by it (a new host: B's nginx asks its replica; a
//   changed backend of a host B has cached: B's change feed), p50/p99;
// - the same on one LMDB machine (acknowledgement → its own nginx);
// - writes per second (16 clients) through one route API, etcd and LMDB modes;
// - an import of N routes (1,000,000 by default) in both modes, and a new
//   edge's initial sync of that table from etcd;
// - disk per route: the edge's replica, the LMDB store, etcd's members.
//
// Run: make bench-fleet (N=… and WRITES=… to change the sizes). Real etcd
// (3 members), real nginx, all on loopback; writes its section of
// docs/benchmarks.md.
import { execFileSync } from "node:child_process";
import { statSync } from "node:fs";
import { join } from "node:path";
import { request } from "../api/test/fixtures/service-process.ts";
import { startEdge, TOKEN, type Edge } from "../tests/lib/edge.ts";
import { startEtcdCluster, type EtcdCluster } from "../tests/lib/etcd-cluster.ts";
import { startBackend, type Backend } from "../tests/lib/fleet.ts";
import { Samples } from "./lib/latency.ts";
import { describeMachine, load1 } from "./lib/machine.ts";
import { replaceSection, table } from "./lib/report.ts";
import { generateEntries, toNdjson } from "./lib/routes.ts";

const N = Number(process.env.N ?? 1_000_000);
const WRITES = Number(process.env.WRITES ?? 300);
const CLIENTS = 16;
const THROUGHPUT_WRITES = 3000;

const quiet = { LOG_LEVEL: "warn" };
const ms = (n: number) => `${n.toFixed(1)} ms`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const log = (line: string) => process.stderr.write(`bench-fleet: ${line}\n`);

async function routed(edge: Edge, host: string): Promise<string | undefined> {
  const reply = await edge.route(host);
  return reply.status === 200 ? String(reply.headers["x-backend"]) : undefined;
}

// Time from the acknowledgement of `write` until `edge`'s nginx routes `host` to `want`.
async function propagation(write: () => Promise<number>, edge: Edge, host: string, want: string): Promise<number> {
  const status = await write();
  if (status >= 300) throw new Error(`write for ${host} answered ${status}`);
  const acked = performance.now();
  for (;;) {
    if ((await routed(edge, host)) === want) return performance.now() - acked;
    if (performance.now() - acked > 30_000) throw new Error(`${edge.name} did not route ${host} within 30 s`);
  }
}

async function measurePropagation(from: Edge, to: Edge, backends: Backend[], tag: string): Promise<{ fresh: Samples; changed: Samples }> {
  const fresh = new Samples();
  const changed = new Samples();
  const post = (host: string, backend: string) => async () =>
    (await from.manage("POST", "/entries.json", { host, backend })).status;
  const put = (host: string, backend: string) => async () =>
    (await from.manage("PUT", `/entries/${host}.json`, { backend })).status;
  for (let i = 0; i < WRITES; i++) {
    const host = `${tag}-new-${i}.bench.example`;
    fresh.add(await propagation(post(host, backends[0]!.address), to, host, "one"));
  }
  for (let i = 0; i < WRITES; i++) {
    const host = `${tag}-new-${i}.bench.example`;
    // The host is in `to`'s nginx cache now; the change must reach it through the feed.
    changed.add(await propagation(put(host, backends[1]!.address), to, host, "two"));
  }
  return { fresh, changed };
}

async function writesPerSecond(edge: Edge, tag: string): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < THROUGHPUT_WRITES) {
        const i = next++;
        const reply = await edge.manage("PUT", `/entries/${tag}-w-${i}.bench.example.json`, { backend: "127.0.0.1:9" });
        if (reply.status >= 300) throw new Error(`write ${i}: ${reply.status} ${reply.body}`);
      }
    }),
  );
  return THROUGHPUT_WRITES / ((performance.now() - started) / 1000);
}

async function importAll(edge: Edge, body: string): Promise<number> {
  const started = performance.now();
  const reply = await request(edge.api.public, "POST", "/entries/import", {
    headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/x-ndjson" },
    body,
  });
  if (reply.status !== 200) throw new Error(`import: ${reply.status} ${reply.body.slice(0, 300)}`);
  return (performance.now() - started) / 1000;
}

function du(path: string): number {
  return Number(execFileSync("du", ["-sb", path], { encoding: "utf8" }).split("\t")[0]);
}

const machine = describeMachine();
const entries = generateEntries(N);
const body = toNdjson(entries);
const importEnv = { ...quiet, IMPORT_LIMIT_BYTES: String(Buffer.byteLength(body) + 2 ** 20) };
log(`${N} routes (${mib(Buffer.byteLength(body))} of NDJSON), ${WRITES} propagation samples per figure`);

let cluster: EtcdCluster | undefined;
const edges: Edge[] = [];
const backends: Backend[] = [];
try {
  backends.push(await startBackend("one"), await startBackend("two"));

  // One machine on LMDB first, alone on the machine.
  const single = await startEdge({ name: "lmdb", endpoints: "", store: "lmdb", env: importEnv, keepLogs: false });
  edges.push(single);
  const lmdbProp = await measurePropagation(single, single, backends, "lmdb");
  const lmdbWrites = await writesPerSecond(single, "lmdb");
  const lmdbImport = await importAll(single, body);
  const lmdbFile = statSync(join(single.stateDir, "routes.mdb")).size;
  const lmdbRoutes = (await single.health()).entries as number;
  log(`lmdb: new ${ms(lmdbProp.fresh.percentiles([50])["p50"]!)} p50, ${lmdbWrites.toFixed(0)} writes/s, import ${lmdbImport.toFixed(1)} s`);
  await single.stop();
  edges.pop();

  cluster = await startEtcdCluster(3);
  const a = await startEdge({ name: "edge-a", endpoints: cluster.endpoints, env: importEnv, keepLogs: false });
  edges.push(a);
  const b = await startEdge({ name: "edge-b", endpoints: cluster.endpoints, env: importEnv, keepLogs: false });
  edges.push(b);
  const etcdProp = await measurePropagation(a, b, backends, "etcd");
  const ownProp = await measurePropagation(a, a, backends, "own");
  const etcdWrites = await writesPerSecond(a, "etcd");
  log(`etcd: new ${ms(etcdProp.fresh.percentiles([99])["p99"]!)} p99, ${etcdWrites.toFixed(0)} writes/s`);
  const etcdImport = await importAll(a, body);
  const total = (await a.health()).entries as number;
  log(`etcd: import ${etcdImport.toFixed(1)} s, ${total} routes`);

  // A new edge joins: from its start until its replica holds the whole table and follows etcd.
  const joinStarted = performance.now();
  const c = await startEdge({ name: "edge-c", endpoints: cluster.endpoints, env: quiet, keepLogs: false, nginx: false });
  edges.push(c);
  for (;;) {
    const health = await c.health().catch(() => undefined);
    if (health?.entries === total && health.store?.watching) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const joinSeconds = (performance.now() - joinStarted) / 1000;
  const replicaFile = statSync(join(c.stateDir, "routes.mdb")).size;
  const etcdDisk = du(cluster.members[0]!.dataDir);
  log(`new edge synced ${total} routes in ${joinSeconds.toFixed(1)} s; replica ${mib(replicaFile)}, etcd member ${mib(etcdDisk)}`);

  const pct = (s: Samples) => s.percentiles([50, 99]);
  const row = (what: string, s: Samples, target = "") => [what, ms(pct(s)["p50"]!), ms(pct(s)["p99"]!), String(s.count), target];
  const perRoute = (bytes: number, routes: number) => `${(bytes / routes).toFixed(0)} B`;
  const report = `## A fleet on etcd (\`bench/fleet.ts\`)

\`make bench-fleet\` (here: \`N=${N} WRITES=${WRITES} make bench-fleet\`), ${new Date().toISOString().slice(0, 10)}, on
${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Linux ${machine.kernel}, Node ${machine.node}; load average
${load1()} at the end. Everything on this one machine: a 3-member etcd 3.4 cluster (Debian's package, the
test timing of \`scripts/etcd-members.ts\`), two edges (route API in etcd mode + nginx each), the benchmark's
client; the LMDB figures come from one edge alone (\`ROUTE_STORE=lmdb\`) before the cluster starts.
Setup: docs/fleet.md.

### Propagation: a write's acknowledgement → an nginx routes by it

Clocked from the moment the route API that took the write answered it until a request through the named
nginx reaches the new backend (requests sent back to back). "new host": the host had no route before, so
the nginx asks its route API (on edge B: B's replica). "changed backend": the host is in that nginx's
cache, so the change must come through the change feed.

${table(["write → routed", "p50", "p99", "writes", "target"], [
  row("etcd: A acknowledges a new host → B's nginx routes it", etcdProp.fresh, "p99 ≤ 100 ms"),
  row("etcd: A acknowledges a changed backend → B's nginx routes it", etcdProp.changed, "p99 ≤ 100 ms"),
  row("etcd: A acknowledges a new host → A's own nginx routes it", ownProp.fresh),
  row("etcd: A acknowledges a changed backend → A's own nginx", ownProp.changed),
  row("LMDB: acknowledged new host → its nginx routes it", lmdbProp.fresh),
  row("LMDB: acknowledged changed backend → its nginx", lmdbProp.changed),
])}

### Writes, imports, a new edge, disk

${table(["figure", "etcd mode", "LMDB mode", "target"], [
  [`single writes per second (${CLIENTS} clients, ${THROUGHPUT_WRITES} PUTs, one route API)`, etcdWrites.toFixed(0), lmdbWrites.toFixed(0), ""],
  [`import of ${N.toLocaleString("en")} routes (one request, until acknowledged)`, `${etcdImport.toFixed(1)} s`, `${lmdbImport.toFixed(1)} s`, ""],
  [`a new edge's initial sync of ${total.toLocaleString("en")} routes (start → replica complete and following)`, `${joinSeconds.toFixed(1)} s`, "—", "≤ 60 s"],
  ["local LMDB file per route (\`routes.mdb\`: the replica / the store)", perRoute(replicaFile, total), perRoute(lmdbFile, lmdbRoutes), ""],
  ["etcd: one member's data directory per route (with its history, uncompacted)", perRoute(etcdDisk, total), "—", ""],
])}

Reading the figures: a write reaches edge B through B's etcd watch (etcd pushes the commit, B applies it to
its LMDB replica); a changed backend then reaches B's nginx through the change feed's long-poll, as on one
machine. A write in etcd mode costs a Raft round through three members (here sharing one disk and two cores)
and the acknowledging edge's own replica applying it (read-your-writes), hence fewer writes per second than
one local LMDB transaction. An import in etcd mode is N small puts through Raft (16 transactions of 128 in
flight) into a new generation, then every edge re-reads the whole table at the switch; on LMDB it is one
local transaction. etcd keeps every revision until it is compacted and writes its log in 64 MiB segments,
so its disk per route is an upper bound here, not a steady state.
`;
  replaceSection(join(import.meta.dirname, "../docs/benchmarks.md"), "fleet", report);
  process.stdout.write(report);
} finally {
  await Promise.all(edges.map((edge) => edge.stop().catch(() => {})));
  await Promise.all(backends.map((backend) => backend.close()));
  await cluster?.stop();
}
