// The etcd replica on a real LMDB file: applying watch events and resyncing
// from a snapshot change and announce only what differs, and the revision it
// reached is kept with the routes, across a reopen, with /changes' sequence.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { ReplicaStore, type ReplicaState } from "../src/replica.ts";

function open(t: ExecutionContext, retainChanges = 100): { dir: string; replica: ReplicaStore } {
  const dir = mkdtempSync(join(tmpdir(), "set-backend-replica-"));
  const replica = new ReplicaStore({ dir, retainChanges });
  t.teardown(async () => {
    await replica.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, replica };
}

const at = (revision: number): ReplicaState => ({ revision, generation: "g1", clusterId: "c1", prefix: "/set-backend/" });

test("watch events: puts, deletes and no-op puts; only real changes are announced", async (t) => {
  const { replica } = open(t);
  await replica.applyChanges(new Map([["a.com", "10.0.0.1:80"], ["b.com", "10.0.0.2:80"]]), at(5));
  t.is(replica.seq, 2);
  // b.com rewritten with the same backend (e.g. an etcd put of the same value), a.com deleted, c.com new.
  const changed = await replica.applyChanges(new Map<string, string | undefined>([["a.com", undefined], ["b.com", "10.0.0.2:80"], ["c.com", "10.0.0.3:80"], ["gone.com", undefined]]), at(9));
  t.is(changed, 2);
  t.deepEqual([...replica.list()].map((e) => e.host), ["b.com", "c.com"]);
  t.deepEqual(replica.changesSince(2), { seq: 4, changes: [{ seq: 3, op: "delete", host: "a.com" }, { seq: 4, op: "put", host: "c.com" }] });
  t.is(replica.replicaState()?.revision, 9);
  // A response of only stamps still moves the revision on, announcing nothing.
  await replica.applyChanges(new Map(), at(10));
  t.is(replica.replicaState()?.revision, 10);
  t.is(replica.seq, 4);
});

test("a resync applies only the differences and announces only those hosts", async (t) => {
  const { replica } = open(t);
  const table = new Map<string, string>();
  for (let i = 0; i < 50; i++) table.set(`h${i}.com`, "10.0.0.1:80");
  await replica.replaceAll(new Map(table), at(100));
  const before = replica.seq;
  table.delete("h1.com");
  table.set("h2.com", "10.0.0.9:80");
  table.set("new.com", "10.0.0.1:80");
  const counts = await replica.replaceAll(new Map(table), at(200));
  t.deepEqual(counts, { put: 2, deleted: 1 });
  const page = replica.changesSince(before);
  t.true("changes" in page);
  if ("changes" in page) t.deepEqual(page.changes.map((c) => `${c.op} ${c.host}`).sort(), ["delete h1.com", "put h2.com", "put new.com"]);
  t.deepEqual([...replica.list()].map((e) => [e.host, e.backend]), [...table].sort(([a], [b]) => (a < b ? -1 : 1)));
});

test("more differences than the log keeps become one reset; the sequence keeps growing", async (t) => {
  const { replica } = open(t, 10);
  await replica.applyChanges(new Map([["a.com", "10.0.0.1:80"]]), at(1));
  const table = new Map<string, string>();
  for (let i = 0; i < 30; i++) table.set(`h${i}.com`, "10.0.0.1:80");
  await replica.replaceAll(table, at(2));
  t.true(replica.seq > 1);
  t.like(replica.changesSince(1), { reset: true });
  t.is(replica.count(), 30);
});

test("the revision and the sequence survive a reopen", async (t) => {
  const { dir, replica } = open(t);
  await replica.applyChanges(new Map([["a.com", "10.0.0.1:80"]]), at(42));
  const seq = replica.seq;
  await replica.close();
  const again = new ReplicaStore({ dir });
  t.teardown(() => again.close().catch(() => {}));
  t.is(again.replicaState()?.revision, 42);
  t.is(again.seq, seq);
  t.deepEqual(again.get("a.com"), { host: "a.com", backend: "10.0.0.1:80" });
});
