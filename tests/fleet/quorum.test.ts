// Issue 12, item 7: etcd loses quorum. Both edges keep routing every host in
// their replicas, cached by nginx or not; writes get 503 in the API's error
// format; /healthz says degraded and how stale; an edge restarted meanwhile
// still routes. When etcd is back, a write made before the loss is still
// there and new writes flow, without restarting anything.
import test from "ava";
import { type Edge, routedTo, until } from "../lib/edge.ts";
import { fleetForFile } from "../lib/fleet.ts";
import { checkEtcdAnswer } from "./contract.ts";

const fleet = fleetForFile(test);

const hosts = Array.from({ length: 20 }, (_, i) => `site-${i}.example.com`);

async function routesAll(edge: Edge, names: string[]): Promise<string[]> {
  const failed: string[] = [];
  for (const host of names) {
    const backend = await routedTo(edge, host);
    if (backend !== "one") failed.push(`${host}: ${backend}`);
  }
  return failed;
}

test.serial("quorum lost, an edge restarted meanwhile, quorum back", async (t) => {
  t.timeout(300_000);
  const { a, b, backends, cluster } = fleet();
  for (const host of hosts) t.is((await a.manage("POST", "/entries.json", { host, backend: backends[0]!.address })).status, 201);
  await until(async () => (await b.internal(`/resolve/${hosts.at(-1)}`)).status === 200, "edge B to have every route");
  // nginx on each edge caches the first five; the others will be misses.
  for (const edge of [a, b]) t.deepEqual(await routesAll(edge, hosts.slice(0, 5)), []);

  // Two of three members gone: no quorum.
  await cluster.kill(1);
  await cluster.kill(2);
  for (const edge of [a, b]) {
    // Degraded as soon as its watch or its probe fails; not connected once a
    // linearizable read has failed (no quorum).
    await until(async () => (await edge.health()).store.connected === false, `${edge.name} to report etcd unreachable`, 60_000);
  }
  const health = await a.health();
  t.like(health, { status: "degraded", entries: 20, store: { kind: "etcd", connected: false } });
  t.regex((await a.manage("GET", "/metrics")).body, /^set_backend_store_degraded 1$/m);
  t.true(typeof health.store.stale_ms === "number" && health.store.stale_ms >= 0, JSON.stringify(health));

  // Every host routes on both edges: cached ones and misses answered from the replica.
  for (const edge of [a, b]) t.deepEqual(await routesAll(edge, hosts.slice(0, 15)), [], `${edge.name} routes during the outage`);

  // Writes are refused, clearly, in the API's error format.
  for (const edge of [a, b]) {
    const refused = await edge.manage("POST", "/entries.json", { host: "refused.example.com", backend: backends[1]!.address });
    t.is(refused.status, 503, refused.body);
    t.like(JSON.parse(refused.body), { error: "store_unavailable" });
    checkEtcdAnswer(t, "POST", "/entries.json", refused);
    t.regex(JSON.parse(refused.body).message, /not acknowledged/);
  }
  const refusedDelete = await a.manage("DELETE", `/entries/${hosts[0]}.json`);
  t.is(refusedDelete.status, 503);
  checkEtcdAnswer(t, "DELETE", "/entries/{host}.json", refusedDelete);
  t.is(await routedTo(a, hosts[0]!), "one", "a refused delete changes nothing");

  // Edge B's route API restarts while etcd is away: it serves the table it had,
  // including hosts its nginx has never asked for.
  await b.stopApi();
  await b.startApi();
  t.deepEqual(await routesAll(b, hosts.slice(15)), [], "the restarted edge routes misses from its replica");
  const restarted = await b.health();
  t.like(restarted, { status: "degraded", entries: 20 });
  t.true(typeof restarted.store.stale_ms === "number", JSON.stringify(restarted));

  // etcd back: both edges catch up without a restart.
  await cluster.start(1);
  await cluster.start(2);
  await cluster.waitHealthy();
  for (const edge of [a, b]) {
    await until(async () => (await edge.health()).status === "ok", `${edge.name} to report ok again`, 90_000);
  }
  for (const edge of [a, b]) {
    const before = await edge.manage("GET", `/entries/${hosts[0]}.json`);
    t.is(before.status, 200, "a write from before the loss is still there");
    t.is(JSON.parse(before.body).backend, backends[0]!.address);
  }
  const after = await b.manage("POST", "/entries.json", { host: "after.example.com", backend: backends[1]!.address });
  t.is(after.status, 201, after.body);
  t.is(await routedTo(b, "after.example.com"), "two");
  await until(async () => (await routedTo(a, "after.example.com")) === "two", "edge A to route a write made through B after the outage");
});
