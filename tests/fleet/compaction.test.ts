// Issue 12, item 7: etcd compacts its history while an edge is cut off from it.
// When the edge reconnects its watch cannot resume; it resyncs from a fresh
// snapshot, and its table then equals etcd's exactly, having announced on
// /changes only the hosts that changed.
import test from "ava";
import { requireBuilt, routedTo, until } from "../lib/edge.ts";
import { etcdRevision, etcdTable } from "../lib/etcd-table.ts";
import { startFleet, type Fleet } from "../lib/fleet.ts";
import { startCuttableLink, type CuttableLink } from "../lib/tcp-cut.ts";

let fleet: Fleet;
const links: CuttableLink[] = [];

test.before(async () => {
  requireBuilt();
  fleet = await startFleet({
    // Edge B reaches each member through a link the test can cut.
    async endpointsOfB(cluster) {
      for (const member of cluster.members) links.push(await startCuttableLink(member.clientPort));
      return links.map((link) => `http://127.0.0.1:${link.port}`).join(",");
    },
  });
});
test.after.always(async () => {
  await fleet?.stop();
  await Promise.all(links.map((link) => link.close()));
});

test.serial("a quiet edge B resumes its watch after compaction without a resync (progress notifications)", async (t) => {
  t.timeout(120_000);
  const { a, b, backends, cluster } = fleet;
  t.is((await a.manage("POST", "/entries.json", { host: "quiet.example.com", backend: backends[0]!.address })).status, 201);
  await until(async () => (await b.internal("/resolve/quiet.example.com")).status === 200, "edge B to have the route");
  // Another application's keys are busy; B's routes are not.
  for (let i = 0; i < 20; i++) cluster.ctl("put", `/another-app/key-${i}`, "x");
  const busy = etcdRevision(cluster);
  await until(async () => (await b.health()).store.revision >= busy, "B's replica to record etcd's progress", 30_000);
  cluster.ctl("compact", String(busy));
  const logged = b.api.logs.length;
  for (const link of links) link.cut();
  await until(async () => (await b.health()).status === "degraded", "edge B to notice it is cut off", 60_000);
  for (const link of links) link.restore();
  await until(async () => (await b.health()).status === "ok", "edge B to reconnect", 90_000);
  const resyncs = b.api.logs.slice(logged).filter((line) => line.msg === "replica resyncing from a fresh snapshot");
  t.deepEqual(resyncs, [], "B resumed from its own revision");
  t.is((await b.internal("/resolve/quiet.example.com")).status, 200);
  t.is((await a.manage("DELETE", "/entries/quiet.example.com.json")).status, 204);
  await until(async () => (await b.internal("/resolve/quiet.example.com")).status === 404, "B to follow writes again");
});

test.serial("compaction while edge B is cut off: after reconnecting, B's table equals etcd's", async (t) => {
  t.timeout(240_000);
  const { a, b, backends, cluster } = fleet;
  const hosts = Array.from({ length: 30 }, (_, i) => `tenant-${i}.example.com`);
  for (const host of hosts) t.is((await a.manage("POST", "/entries.json", { host, backend: backends[0]!.address })).status, 201);
  await until(async () => (await b.health()).entries === 30, "edge B to have the 30 routes");
  t.is(await routedTo(b, hosts[0]!), "one");
  const seqBefore = (await b.health()).seq;

  for (const link of links) link.cut();
  await until(async () => (await b.health()).status === "degraded", "edge B to notice it is cut off", 60_000);

  // Meanwhile through A: 5 changed, 5 deleted, 5 added, and one host changed
  // and changed back (no difference for B to announce).
  for (const host of hosts.slice(0, 5)) t.is((await a.manage("PUT", `/entries/${host}.json`, { backend: backends[1]!.address })).status, 200);
  for (const host of hosts.slice(5, 10)) t.is((await a.manage("DELETE", `/entries/${host}.json`)).status, 204);
  for (let i = 0; i < 5; i++) t.is((await a.manage("POST", "/entries.json", { host: `new-${i}.example.com`, backend: backends[1]!.address })).status, 201);
  t.is((await a.manage("PUT", `/entries/${hosts[29]}.json`, { backend: backends[1]!.address })).status, 200);
  t.is((await a.manage("PUT", `/entries/${hosts[29]}.json`, { backend: backends[0]!.address })).status, 200);
  const revision = etcdRevision(cluster);
  cluster.ctl("compact", String(revision));
  // B still routes by what it had.
  t.is(await routedTo(b, hosts[0]!), "one");
  t.is(await routedTo(b, hosts[5]!), "one");

  for (const link of links) link.restore();
  await until(async () => (await b.health()).status === "ok", "edge B to reconnect", 90_000);
  const expected = etcdTable(cluster);
  t.is(expected.size, 30);
  const wanted = JSON.stringify([...expected].sort(([x], [y]) => (x < y ? -1 : 1)));
  const tableOfB = async () => {
    const listed = JSON.parse((await b.manage("GET", "/entries.json")).body) as { host: string; backend: string }[];
    return JSON.stringify(listed.map((e) => [e.host, e.backend]));
  };
  await until(async () => (await tableOfB()) === wanted, "edge B's table to equal etcd's", 60_000);
  t.is(await tableOfB(), wanted);
  t.true((await b.health()).store.revision >= revision, "B resynced at or after the compaction");
  t.true(
    b.api.logs.some((line) => line.msg === "replica resyncing from a fresh snapshot" && line.reason === "compacted"),
    "B's watch found its start compacted and resynced",
  );

  // Only the 15 hosts that differ were announced, once each.
  const page = JSON.parse((await b.internal(`/changes?since=${seqBefore}`)).body);
  t.truthy(page.changes, JSON.stringify(page));
  const announced = page.changes.map((c: { op: string; host: string }) => `${c.op} ${c.host}`).sort();
  t.deepEqual(announced, [
    ...hosts.slice(0, 5).map((h) => `put ${h}`),
    ...hosts.slice(5, 10).map((h) => `delete ${h}`),
    ...Array.from({ length: 5 }, (_, i) => `put new-${i}.example.com`),
  ].sort());

  // And nginx on B follows: a changed host, a deleted one, a new one.
  await until(async () => (await routedTo(b, hosts[0]!)) === "two", "edge B's nginx to follow the change");
  t.is((await b.route(hosts[5]!)).status, 404);
  t.is(await routedTo(b, "new-0.example.com"), "two");
});
