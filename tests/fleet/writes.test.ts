// Issue 12, item 7: a write through edge A routes on edge B (and on A as soon
// as A answers), changes and deletions follow, and with one etcd member killed
// reads and writes go on.
import test from "ava";
import { routedTo, until } from "../lib/edge.ts";
import { fleetForFile } from "../lib/fleet.ts";

const fleet = fleetForFile(test);

test.serial("a write through edge A routes on edge A when it is answered, then on edge B", async (t) => {
  t.timeout(120_000);
  const { a, b, backends } = fleet();
  const created = await a.manage("POST", "/entries.json", { host: "shop.example.com", backend: backends[0]!.address });
  t.is(created.status, 201, created.body);
  // Read-your-writes: the node that took the write routes by it already.
  t.is(await routedTo(a, "shop.example.com"), "one");
  const ms = await until(async () => (await routedTo(b, "shop.example.com")) === "one", "edge B to route shop.example.com");
  t.log(`edge B routed it ${ms} ms after edge A's answer`);

  // A change through B reaches A's nginx, which had the old backend cached.
  const changed = await b.manage("PUT", "/entries/shop.example.com.json", { backend: backends[1]!.address });
  t.is(changed.status, 200, changed.body);
  t.is(await routedTo(b, "shop.example.com"), "two");
  await until(async () => (await routedTo(a, "shop.example.com")) === "two", "edge A to follow the change");

  t.is((await a.manage("DELETE", "/entries/shop.example.com.json")).status, 204);
  t.is((await a.manage("DELETE", "/entries/shop.example.com.json")).status, 404);
  t.is((await a.route("shop.example.com")).status, 404);
  await until(async () => (await b.route("shop.example.com")).status === 404, "edge B to drop the route");
});

test.serial("the API answers the same in etcd mode: validation, auth and the error format", async (t) => {
  const { a } = fleet();
  const bad = await a.manage("POST", "/entries.json", { host: "bad host", backend: "127.0.0.1:1" });
  t.is(bad.status, 400);
  t.like(JSON.parse(bad.body), { error: "invalid_host" });
  const badImport = await a.manage("POST", "/entries/import", '{"host":"ok.example.com","backend":"127.0.0.1:1"}\n{"host":"x"}', "application/x-ndjson");
  t.is(badImport.status, 400);
  t.like(JSON.parse(badImport.body), { error: "invalid_import" });
  t.is((await a.manage("GET", "/entries/ok.example.com.json")).status, 404, "a refused import changes nothing");
  const health = await a.health();
  t.like(health, { status: "ok", store: { kind: "etcd", connected: true, watching: true, stale_ms: 0 } });
});

test.serial("the etcd leader killed: both edges keep routing and taking writes", async (t) => {
  t.timeout(180_000);
  const { a, b, backends, cluster } = fleet();
  t.is((await a.manage("POST", "/entries.json", { host: "before.example.com", backend: backends[0]!.address })).status, 201);
  // The leader, the member whose loss costs most: the others elect a new one,
  // and writes in the meantime wait for it (ETCD_TIMEOUT_MS) rather than fail.
  const leader = cluster.leader();
  await cluster.kill(leader);
  t.teardown(() => cluster.start(leader));
  for (const [i, edge] of [a, b, a, b].entries()) {
    const reply = await edge.manage("POST", "/entries.json", { host: `during-${i}.example.com`, backend: backends[1]!.address });
    t.is(reply.status, 201, `write ${i} through ${edge.name}: ${reply.body}`);
    t.is(await routedTo(edge, `during-${i}.example.com`), "two");
  }
  for (const edge of [a, b]) {
    await until(async () => (await routedTo(edge, "during-0.example.com")) === "two" && (await routedTo(edge, "during-1.example.com")) === "two", `${edge.name} to route both edges' writes`);
    t.is(await routedTo(edge, "before.example.com"), "one");
  }
  await cluster.start(leader);
  await cluster.waitHealthy();
});
