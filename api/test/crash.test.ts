// kill -9 durability: the real service runs as a child process, gets SIGKILL with
// requests in flight, and is restarted on the same state directory. Whatever it
// acknowledged before dying must be there afterwards (design.md, "Reliability"),
// the changes feed must agree with the table, sequence numbers must keep growing,
// and an import cut off anywhere must be there whole or not at all.
//
// Where the kill lands is decided by counts and by a seeded generator, so a run
// repeats itself; when the kill lands relative to the service's work still
// depends on scheduling, which is why each test kills several times.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { authHeaders, request, startService, type ServiceProcess, type Target } from "./fixtures/service-process.ts";
import { seeded } from "../../bench/lib/routes.ts";

const TOKEN = "crash-test-token-0123456789";

function tempStateDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), "set-backend-crash-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// Starts the service and makes sure it is SIGKILLed when the test ends, however it ends.
async function start(t: ExecutionContext, stateDir: string, env?: Record<string, string>): Promise<ServiceProcess> {
  const service = await startService({ stateDir, token: TOKEN, ...(env ? { env } : {}) });
  t.teardown(() => service.kill());
  return service;
}

async function getJson<T>(target: Target, path: string, token?: string): Promise<T> {
  const res = await request(target, "GET", path, token ? { headers: authHeaders(token) } : {});
  if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${res.body}`);
  return JSON.parse(res.body) as T;
}

interface Change {
  seq: number;
  op: "put" | "delete";
  host: string;
}

/** The whole retained changes log, page by page, from the internal socket. */
async function readChanges(service: ServiceProcess, since = 0): Promise<{ seq: number; changes: Change[]; reset: boolean }> {
  const changes: Change[] = [];
  let cursor = since;
  // Bounded: the log holds at most CHANGES_RETAIN (10,000) entries, 1,000 a page.
  for (let page = 0; page < 100; page++) {
    const body = await getJson<{ seq: number; changes?: Change[]; reset?: boolean }>(service.internal, `/changes?since=${cursor}`);
    if (body.reset) return { seq: body.seq, changes, reset: true };
    if (body.changes!.length === 0) return { seq: body.seq, changes, reset: false };
    changes.push(...body.changes!);
    cursor = body.seq;
  }
  throw new Error("the changes feed did not end after 100 pages");
}

async function health(service: ServiceProcess): Promise<{ entries: number; seq: number }> {
  return getJson(service.public, "/healthz");
}

async function listEntries(service: ServiceProcess): Promise<Map<string, string>> {
  const entries = await getJson<{ host: string; backend: string }[]>(service.public, "/entries.json", service.token);
  return new Map(entries.map((e) => [e.host, e.backend]));
}

const entryPath = (host: string) => `/entries/${encodeURIComponent(host)}.json`;

// ---------------------------------------------------------------------------
// (a) single writes and deletes

/** What the writers know: acknowledged state, and what a kill left undecided. */
interface Model {
  /** Acknowledged puts not deleted since: host → backend. */
  live: Map<string, string>;
  /** Acknowledged deletes. */
  deleted: Set<string>;
  /**
   * Requests the kill cut off before an answer: the host's backend before the
   * request (undefined: no route) and after it (null: deleted). Either may be found.
   */
  undecided: Map<string, { before: string | undefined; after: string | null }>;
  /** The highest sequence number seen in any earlier check. */
  highestSeq: number;
  /** Writes and deletes acknowledged so far, over all rounds. */
  acks: number;
}

// Checks the restarted service against the model, then settles the undecided
// requests from what the service holds now, so the next round starts exact.
async function verifyAfterRestart(t: ExecutionContext, service: ServiceProcess, model: Model, round: number): Promise<void> {
  const table = await listEntries(service);
  for (const [host, backend] of model.live) {
    if (model.undecided.has(host)) continue;
    t.is(table.get(host), backend, `round ${round}: acknowledged write of ${host} is missing or wrong after kill -9`);
  }
  for (const host of model.deleted) {
    t.false(table.has(host), `round ${round}: acknowledged delete of ${host} was undone by kill -9`);
  }
  for (const [host, backend] of table) {
    const cut = model.undecided.get(host);
    const known = cut ? backend === cut.before || backend === cut.after : model.live.get(host) === backend;
    t.true(known, `round ${round}: ${host} → ${backend} is in the table but was never written with that backend`);
  }

  // The feed and the table come from the same transactions: replaying the feed
  // must give exactly the table's hosts, in strictly growing sequence order.
  const feed = await readChanges(service);
  t.false(feed.reset, `round ${round}: /changes?since=0 answered reset although the log was never pruned`);
  const replayed = new Set<string>();
  let previous = 0;
  for (const change of feed.changes) {
    t.true(change.seq > previous, `round ${round}: change seq ${change.seq} does not follow ${previous}`);
    previous = change.seq;
    if (change.op === "put") replayed.add(change.host);
    else replayed.delete(change.host);
  }
  t.deepEqual([...replayed].sort(), [...table.keys()].sort(), `round ${round}: replaying the changes feed does not give the table`);
  const putSeen = new Set(feed.changes.filter((c) => c.op === "put").map((c) => c.host));
  for (const host of model.live.keys()) {
    if (!model.undecided.has(host)) t.true(putSeen.has(host), `round ${round}: no put change for acknowledged ${host}`);
  }
  const deleteSeen = new Set(feed.changes.filter((c) => c.op === "delete").map((c) => c.host));
  for (const host of model.deleted) t.true(deleteSeen.has(host), `round ${round}: no delete change for acknowledged delete of ${host}`);

  const { seq, entries } = await health(service);
  t.is(entries, table.size, `round ${round}: /healthz entries disagrees with the listing`);
  t.is(seq, feed.seq, `round ${round}: /healthz seq disagrees with the changes feed`);
  t.true(seq >= model.highestSeq, `round ${round}: seq went back from ${model.highestSeq} to ${seq} across the restart`);

  for (const [host, cut] of model.undecided) {
    if (table.has(host)) {
      model.live.set(host, table.get(host)!);
    } else {
      model.live.delete(host);
      if (cut.after === null) model.deleted.add(host);
    }
  }
  model.undecided.clear();
  model.highestSeq = Math.max(model.highestSeq, seq, previous);

  // A write after the restart must get a sequence number above all earlier ones.
  const host = `after-restart-${round}.crash.test`;
  const backend = `10.9.${round}.1:8080`;
  const res = await request(service.public, "POST", "/entries.json", {
    headers: authHeaders(service.token),
    body: JSON.stringify({ host, backend }),
  });
  t.is(res.status, 201, `round ${round}: write after restart answered ${res.status}: ${res.body}`);
  const after = await readChanges(service, model.highestSeq);
  t.is(after.changes.length, 1, `round ${round}: expected one change after seq ${model.highestSeq}`);
  t.like(after.changes[0], { op: "put", host }, `round ${round}: the new change is not the write after restart`);
  t.true((after.changes[0]?.seq ?? 0) > model.highestSeq, `round ${round}: the write after restart reused an old seq`);
  model.live.set(host, backend);
  model.highestSeq = after.seq;
  model.acks++;
}

interface WriteRound {
  writers: number;
  /** Acknowledgements in this round before the kill is armed. */
  killAfter: number;
  /**
   * "sent": SIGKILL once the next request has left (after `killDelayMs`; 0 means
   * on the next tick). "ack": SIGKILL the moment the answer numbered `killAfter`
   * arrives, while the other writers' requests are in flight.
   */
  killOn: "sent" | "ack";
  killDelayMs: number;
}

// Writers send puts of new hosts and deletes of acknowledged ones, one request at
// a time each, until the kill cuts them off; a request is in flight when it lands.
async function writeUntilKilled(t: ExecutionContext, service: ServiceProcess, model: Model, round: WriteRound, rand: () => number, roundNo: number) {
  let acked = 0;
  let armed = false;
  let serial = 0;
  const limit = round.killAfter + 200; // a bound in case the kill never lands
  const writer = async (w: number) => {
    for (let sent = 0; sent < limit && service.child.exitCode === null && service.child.signalCode === null; sent++) {
      const candidates = [...model.live.keys()];
      const remove = candidates.length > 5 && rand() < 0.2;
      let host: string;
      let method: string;
      let path: string;
      let body: string | undefined;
      let backend: string | null;
      let before: string | undefined;
      if (remove) {
        host = candidates[Math.floor(rand() * candidates.length)]!;
        before = model.live.get(host);
        model.live.delete(host); // no other writer may pick it meanwhile
        method = "DELETE";
        path = entryPath(host);
        backend = null;
      } else {
        const n = serial++;
        host = `w${w}-${n}.r${roundNo}.crash.test`;
        backend = `10.${roundNo}.${n % 250}.${w + 1}:${1000 + n}`;
        method = "POST";
        path = "/entries.json";
        body = JSON.stringify({ host, backend });
      }
      const killer = round.killOn === "sent" && !armed && acked >= round.killAfter;
      if (killer) armed = true;
      let status: number;
      try {
        const res = await request(service.public, method, path, {
          headers: authHeaders(service.token),
          ...(body !== undefined ? { body } : {}),
          onSent: killer
            ? () => {
                if (round.killDelayMs === 0) setImmediate(() => service.child.kill("SIGKILL"));
                else setTimeout(() => service.child.kill("SIGKILL"), round.killDelayMs);
              }
            : undefined,
        });
        status = res.status;
      } catch {
        // Cut off by the kill: the write may or may not have landed.
        model.undecided.set(host, { before, after: backend });
        return;
      }
      if (status !== (remove ? 204 : 201)) {
        t.fail(`${method} ${host} answered ${status}`);
        model.undecided.set(host, { before, after: backend });
        return;
      }
      acked++;
      model.acks++;
      if (remove) model.deleted.add(host);
      else model.live.set(host, backend!);
      if (round.killOn === "ack" && acked === round.killAfter) service.child.kill("SIGKILL");
    }
  };
  await Promise.all(Array.from({ length: round.writers }, (_, w) => writer(w)));
  await service.kill();
  return acked;
}

test.serial("kill -9 during writes and deletes loses nothing that was acknowledged", async (t) => {
  t.timeout(180_000);
  const stateDir = tempStateDir(t);
  const rand = seeded(0x5e7bac);
  const model: Model = { live: new Map(), deleted: new Set(), undecided: new Map(), highestSeq: 0, acks: 0 };
  // One sequential writer first, then several at once, so that LMDB batches commits.
  const rounds: WriteRound[] = [
    { writers: 1, killAfter: 40 + Math.floor(rand() * 40), killOn: "sent", killDelayMs: 0 },
    { writers: 3, killAfter: 60 + Math.floor(rand() * 60), killOn: "ack", killDelayMs: 0 },
    { writers: 4, killAfter: 30 + Math.floor(rand() * 60), killOn: "sent", killDelayMs: 2 },
    { writers: 2, killAfter: 20 + Math.floor(rand() * 40), killOn: "ack", killDelayMs: 0 },
    { writers: 1, killAfter: 20 + Math.floor(rand() * 40), killOn: "sent", killDelayMs: 1 },
    { writers: 4, killAfter: 40 + Math.floor(rand() * 40), killOn: "ack", killDelayMs: 0 },
  ];
  for (let r = 0; r <= rounds.length; r++) {
    const service = await start(t, stateDir);
    if (r > 0) await verifyAfterRestart(t, service, model, r);
    if (r === rounds.length) {
      await service.kill();
      break;
    }
    const acked = await writeUntilKilled(t, service, model, rounds[r]!, rand, r);
    const { signal } = await service.exited;
    t.is(signal, "SIGKILL", `round ${r}: the service ended by ${signal}, not by our kill:\n${service.recentOutput()}`);
    t.log(`round ${r}: ${acked} acknowledged, ${model.undecided.size} cut off by the kill`);
  }
  t.true(model.acks > 100, "the writers got too few acknowledgements for the test to mean anything");
});

// ---------------------------------------------------------------------------
// (b) imports

const IMPORT_LINES = 200_000;

function importBody(batch: number): { body: string; sample: { host: string; backend: string }[] } {
  const lines: string[] = [];
  const sample: { host: string; backend: string }[] = [];
  const sampleAt = new Set([0, 1, Math.floor(IMPORT_LINES / 2), IMPORT_LINES - 2, IMPORT_LINES - 1]);
  for (let i = 0; i < IMPORT_LINES; i++) {
    const host = i % 50 === 0 ? `*.zone-${i}.batch-${batch}.crash.test` : `site-${i}.batch-${batch}.crash.test`;
    const backend = `10.${batch}.${(i >> 8) & 255}.${i & 255}:${3000 + (i % 1000)}`;
    lines.push(JSON.stringify({ host, backend }));
    if (sampleAt.has(i)) sample.push({ host, backend });
  }
  return { body: lines.join("\n") + "\n", sample };
}

function sendImport(service: ServiceProcess, body: string, onSent?: () => void) {
  return request(service.public, "POST", "/entries/import", {
    headers: authHeaders(service.token, "application/x-ndjson"),
    body,
    ...(onSent ? { onSent } : {}),
  });
}

test.serial("kill -9 during an import leaves all of it or none of it", async (t) => {
  t.timeout(300_000);
  const stateDir = tempStateDir(t);

  // An import that completes: it must survive the kills that follow, and its
  // timing tells where to aim them.
  let service = await start(t, stateDir);
  const first = importBody(0);
  const started = performance.now();
  let sentAt = started;
  const res = await sendImport(service, first.body, () => (sentAt = performance.now()));
  const workMs = performance.now() - sentAt;
  t.is(res.status, 200, `the first import answered ${res.status}: ${res.body.slice(0, 500)}`);
  t.like(JSON.parse(res.body), { imported: IMPORT_LINES, created: IMPORT_LINES });
  t.log(`upload ${Math.round(sentAt - started)} ms, then ${Math.round(workMs)} ms to the answer (aim for the kills, not asserted)`);

  // The first kill lands during the upload. The others bisect the time after the
  // upload between a kill that left nothing (lo) and one that left everything
  // (hi), so they close in on the commit, where a torn import would show.
  let lo = 0;
  let hi = workMs * 1.6;
  const KILLS = 7;
  const outcomes: string[] = [];
  let expectedCount = IMPORT_LINES;
  for (let k = 0; k < KILLS; k++) {
    const batch = k + 1;
    const { body, sample } = importBody(batch);
    const before = await health(service);
    t.is(before.entries, expectedCount, `kill ${k}: entry count before the import`);

    const aim = k === 0 ? 0 : (lo + hi) / 2;
    let timer: NodeJS.Timeout | undefined;
    const sending = sendImport(service, body, () => {
      if (k > 0) timer = setTimeout(() => service.child.kill("SIGKILL"), Math.round(aim));
    });
    if (k === 0) setImmediate(() => service.child.kill("SIGKILL"));
    const outcome = await sending.then(
      (r) => ({ acked: r.status === 200, status: r.status }),
      () => ({ acked: false, status: 0 }),
    );
    if (outcome.status !== 0) t.is(outcome.status, 200, `kill ${k}: the import answered ${outcome.status}`);
    // If the answer beat the timer, kill now: the acknowledged import must survive too.
    clearTimeout(timer);
    await service.kill();

    service = await start(t, stateDir);
    const after = await health(service);
    const applied = after.entries === expectedCount + IMPORT_LINES;
    t.true(
      applied || after.entries === expectedCount,
      `kill ${k}: ${after.entries} entries after restart: neither none (${expectedCount}) nor all (${expectedCount + IMPORT_LINES}) of the import`,
    );
    if (outcome.acked) t.true(applied, `kill ${k}: an acknowledged import is gone after kill -9`);
    for (const { host, backend } of sample) {
      const got = await request(service.public, "GET", entryPath(host), { headers: authHeaders(TOKEN) });
      if (applied) {
        t.is(got.status, 200, `kill ${k}: ${host} missing although the import's count is there`);
        t.is(got.status === 200 ? JSON.parse(got.body).backend : undefined, backend);
      } else {
        t.is(got.status, 404, `kill ${k}: ${host} present although the import's count is not`);
      }
    }
    // The import is one change to the feed: a reset after the old seq, or nothing at all.
    const feed = await readChanges(service, before.seq);
    if (applied) {
      t.true(after.seq > before.seq, `kill ${k}: the import is there but seq did not move`);
      t.true(feed.reset, `kill ${k}: followers at the old seq were not told to reset`);
      expectedCount += IMPORT_LINES;
    } else {
      t.is(after.seq, before.seq, `kill ${k}: the import is not there but seq moved`);
      t.deepEqual(feed.changes, [], `kill ${k}: the import is not there but the feed announces changes`);
    }
    if (k > 0) {
      if (applied) hi = aim;
      else lo = aim;
    }
    // The first import must outlive every kill.
    const kept = await request(service.public, "GET", entryPath(first.sample[2]!.host), { headers: authHeaders(TOKEN) });
    t.is(kept.status, 200, `kill ${k}: the acknowledged first import lost ${first.sample[2]!.host}`);
    outcomes.push(`${k === 0 ? "upload" : `+${Math.round(aim)} ms`}: ${applied ? "all" : "none"}${outcome.acked ? " (acknowledged)" : ""}`);
  }
  t.log(`kills (time after the upload) → ${outcomes.join(", ")}`);
});
