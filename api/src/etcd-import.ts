// An import in etcd mode, all or nothing as every edge sees it, although one
// etcd transaction holds only 128 operations / 1.5 MiB (docs/fleet.md,
// "Imports"):
//
// 1. Read the current generation G and the revision Rs it was read at.
// 2. Write a new generation G' in many small transactions: every route of G as
//    of Rs that the import does not name, then every imported route. No node
//    reads G' yet: edges follow G only.
// 3. Seal G (single writes to G wait for the switch), replay onto G' exactly
//    the single writes that landed in G after Rs (a watch of G from Rs + 1),
//    then switch in one transaction: `current` = G' and G's `!next` marker, if
//    `current` is still G and the seal is still ours. Raced writes land after
//    the import, not lost. If another import switched first, this one is
//    refused (409).
// 4. Delete G.
import type { Etcd3, IRequestOp, IWatchRequest, IWatchResponse } from "etcd3";
import type { EventEmitter } from "node:events";
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import { within } from "./etcd-client.ts";
import { EtcdKeys, SNAPSHOT_PAGE, newGeneration, prefixEnd } from "./etcd-keys.ts";
import type { LineProblem } from "./import.ts";
import type { EtcdConfig } from "./store-config.ts";

// etcd's defaults: --max-txn-ops 128, --max-request-bytes 1.5 MiB. Stay under both.
const OPS_PER_TXN = 128;
const BYTES_PER_TXN = 1024 * 1024;
// Batches in flight at once: etcd batches concurrent proposals into one Raft round; past 16 it gained
// nothing here (200,000 routes: 14 s with 4, 10 s with 16, 11 s with 32), and single writes need room too.
const IN_FLIGHT = 16;
// How often the switch may find its seal lapsed before the import gives up.
const SWITCH_ATTEMPTS = 5;
// The seal's lease: how long single writes may be held up if the importing process dies mid-switch.
const SEAL_TTL_SECONDS = 10;
// An import recorded this long ago that has not switched nor cleaned up is taken for dead.
const ABANDONED_AFTER_MS = 60 * 60 * 1000;

/** Another import switched the table first, or the history needed to merge is gone: nothing was imported. */
export class ImportConflict extends Error {}

export interface ImportCounts {
  created: number;
  replaced: number;
  unchanged: number;
  /** The revision of the switch: once a replica has applied it, it routes by the import. */
  revision: number;
}

interface Head {
  generation: string;
  revision: number;
}

/** What the import worker (etcd-import-worker.ts) answers. */
export type EtcdImportOutcome =
  | ({ kind: "imported"; imported: number } & ImportCounts)
  | { kind: "invalid"; problems: LineProblem[]; badLines: number }
  | { kind: "conflict"; message: string }
  | { kind: "unavailable"; message: string };

/** Checks and imports an NDJSON body on a worker thread with its own etcd client. */
export function importOnEtcdWorker(etcd: EtcdConfig, body: Buffer): Promise<EtcdImportOutcome> {
  return new Promise((resolve, reject) => {
    // The body's bytes move to the worker rather than being copied (as import.ts does).
    const bytes = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    const whole = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength;
    const worker = new Worker(new URL("./etcd-import-worker-boot.js", import.meta.url), {
      workerData: { etcd, body: bytes },
      transferList: whole ? [bytes.buffer as ArrayBuffer] : [],
    });
    // The answer comes as a message; the worker then deletes the old generation
    // before it exits, which the answer does not wait for.
    let answered = false;
    worker.once("message", (message: EtcdImportOutcome) => {
      answered = true;
      resolve(message);
    });
    worker.once("error", (error) => {
      if (!answered) reject(error);
    });
    worker.once("exit", (code) => {
      if (!answered) reject(new Error(`the import worker exited with code ${code} without an answer`));
    });
  });
}

type WatchStream = EventEmitter & { write(request: IWatchRequest): void; cancel?(): void };

// Writes put/delete operations in transactions of at most OPS_PER_TXN
// operations and BYTES_PER_TXN bytes, IN_FLIGHT at a time.
class BatchWriter {
  private ops: IRequestOp[] = [];
  private bytes = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;

  constructor(
    private readonly client: Etcd3,
    private readonly timeoutMs: number,
  ) {}

  async put(key: string, value: string): Promise<void> {
    await this.add({ request_put: { key: Buffer.from(key), value: Buffer.from(value) } }, key.length + value.length + 16);
  }

  async delete(key: string): Promise<void> {
    await this.add({ request_delete_range: { key: Buffer.from(key) } }, key.length + 16);
  }

  async finish(): Promise<void> {
    this.send();
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
  }

  private async add(op: IRequestOp, size: number): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.ops.length === OPS_PER_TXN || this.bytes + size > BYTES_PER_TXN) this.send();
    this.ops.push(op);
    this.bytes += size;
    while (this.inFlight.size >= IN_FLIGHT) await Promise.race(this.inFlight);
  }

  private send(): void {
    if (this.ops.length === 0) return;
    const ops = this.ops;
    this.ops = [];
    this.bytes = 0;
    const call: Promise<void> = this.client.kv.txn({ compare: [], success: ops, failure: [] }, within(Math.max(this.timeoutMs, 10_000))).then(
      () => {
        this.inFlight.delete(call);
      },
      (error: unknown) => {
        this.failure ??= error;
        this.inFlight.delete(call);
      },
    );
    this.inFlight.add(call);
  }
}

export class EtcdImporter {
  constructor(
    private readonly client: Etcd3,
    private readonly keys: EtcdKeys,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
    /** The current generation and the revision it was read at (creating the first generation if need be). */
    private readonly readPointer: () => Promise<Head>,
  ) {}

  // Deletions of generations, in the background: the answer does not wait for them.
  private readonly cleanups = new Set<Promise<void>>();

  /** Imports `routes` (host → backend, already checked). Throws ImportConflict, or etcd's error. */
  async import(routes: Map<string, string>): Promise<ImportCounts> {
    const started = Date.now();
    this.background(this.collectAbandoned());
    const head = await this.readPointer();
    const next = newGeneration();
    // Recorded before the first route is written: if this process dies, the next import finds G′ and deletes it.
    await this.client.kv.put({ key: Buffer.from(this.keys.importRecord(next)), value: Buffer.from(String(Date.now())) });
    try {
      const counts = await this.build(head, next, routes);
      const revision = await this.switchTo(head, next);
      this.logger.info({ from: head.generation, to: next, routes: routes.size, revision, ms: Date.now() - started }, "import switched generations");
      this.background(this.dropGeneration(head.generation));
      return { ...counts, revision };
    } catch (error) {
      this.background(this.dropGeneration(next));
      throw error;
    }
  }

  /** Resolves once the generations this importer is deleting are gone (or their deletion failed, logged). */
  async idle(): Promise<void> {
    while (this.cleanups.size > 0) await Promise.all(this.cleanups);
  }

  private background(work: Promise<void>): void {
    const tracked = work.finally(() => this.cleanups.delete(tracked));
    this.cleanups.add(tracked);
  }

  // Generations whose import died (its process, its machine) before switching
  // or cleaning up: recorded under imports/ over an hour ago and not current.
  // An import that really runs that long is refused at its switch instead
  // (the switch requires its record).
  private async collectAbandoned(): Promise<void> {
    try {
      const prefix = this.keys.importsPrefix;
      const res = await this.client.kv.range({ key: Buffer.from(prefix), range_end: prefixEnd(prefix) });
      const current = (await this.readPointer()).generation;
      for (const kv of res.kvs) {
        const generation = kv.key.toString().slice(prefix.length);
        const startedAt = Number(kv.value.toString());
        if (generation === current || !(Date.now() - startedAt > ABANDONED_AFTER_MS)) continue;
        this.logger.warn({ generation, started: new Date(startedAt).toISOString() }, "deleting the generation of an import that never finished");
        await this.dropGeneration(generation);
      }
    } catch (error) {
      this.logger.warn({ err: String(error) }, "could not look for abandoned imports");
    }
  }

  // Step 2: G' = (G as of head.revision, minus the imported hosts) + the import.
  private async build(head: Head, next: string, routes: Map<string, string>): Promise<Omit<ImportCounts, "revision">> {
    const counts = { created: 0, replaced: 0, unchanged: 0 };
    const writer = new BatchWriter(this.client, this.timeoutMs);
    const prefix = this.keys.generationPrefix(head.generation);
    const end = prefixEnd(prefix);
    let start = Buffer.from(prefix);
    for (;;) {
      const res = await this.client.kv.range({ key: start, range_end: end, revision: head.revision, limit: SNAPSHOT_PAGE }, within(Math.max(this.timeoutMs, 30_000)));
      for (const kv of res.kvs) {
        const what = this.keys.classify(head.generation, kv.key.toString());
        if (what.kind !== "route") continue;
        const value = kv.value.toString();
        const imported = routes.get(what.host);
        if (imported === undefined) await writer.put(this.keys.route(next, what.host), value);
        else if (imported === value) counts.unchanged++;
        else counts.replaced++;
      }
      if (!res.more || res.kvs.length === 0) break;
      start = Buffer.concat([res.kvs[res.kvs.length - 1]!.key, Buffer.from([0])]);
    }
    for (const [host, backend] of routes) await writer.put(this.keys.route(next, host), backend);
    await writer.finish();
    counts.created = routes.size - counts.replaced - counts.unchanged;
    return counts;
  }

  // Step 3. Single writes keep landing in G while G' is built; under steady
  // write traffic a switch that merely retried on "G changed" could starve. So
  // G is sealed first: from the seal's revision on, single writes to G wait
  // (etcd-store.ts). What landed in G between the copy and the seal is replayed
  // onto G', and the switch then needs only the seal to still be ours. The seal
  // lives on a lease: if this process dies, it lapses in seconds and writes go on.
  private async switchTo(head: Head, next: string): Promise<number> {
    const pointer = Buffer.from(this.keys.pointer);
    const stamp = Buffer.from(this.keys.stamp(head.generation));
    const seal = Buffer.from(this.keys.seal(head.generation));
    const record = Buffer.from(this.keys.importRecord(next));
    const isCurrent = { key: pointer, target: "Value" as const, result: "Equal" as const, value: Buffer.from(head.generation) };
    const lease = this.client.lease(SEAL_TTL_SECONDS);
    lease.on("lost", () => {}); // a lapsed seal is noticed by the switch's compare
    try {
      const leaseId = await lease.grant();
      let copiedUpTo = head.revision;
      for (let attempt = 0; attempt < SWITCH_ATTEMPTS; attempt++) {
        // Sealed only if nobody holds the seal: two imports racing for the same G
        // would otherwise take it from each other in turn.
        const sealed = await this.client.kv.txn({
          compare: [isCurrent, { key: seal, target: "Version", result: "Equal", version: 0 }],
          success: [{ request_put: { key: seal, value: Buffer.from(next), lease: leaseId } }, { request_range: { key: stamp } }],
          failure: [{ request_range: { key: pointer } }],
        });
        if (!sealed.succeeded) {
          const current = sealed.responses[0]?.response_range.kvs[0]?.value.toString();
          throw new ImportConflict(
            current === head.generation
              ? "another import is switching the routing table; nothing of this one was imported"
              : "another import replaced the routing table while this one was written; nothing was imported",
          );
        }
        const lastWrite = Number(sealed.responses[1]?.response_range.kvs[0]?.mod_revision ?? 0);
        if (lastWrite > copiedUpTo) {
          const raced = await this.changesBetween(head.generation, copiedUpTo + 1, lastWrite);
          const writer = new BatchWriter(this.client, this.timeoutMs);
          for (const [host, backend] of raced) {
            if (backend === undefined) await writer.delete(this.keys.route(next, host));
            else await writer.put(this.keys.route(next, host), backend);
          }
          await writer.finish();
          this.logger.info({ replayed: raced.size, up_to: lastWrite }, "import replays single writes that raced it");
          copiedUpTo = lastWrite;
        }
        const res = await this.client.kv.txn({
          compare: [
            isCurrent,
            { key: seal, target: "Value", result: "Equal", value: Buffer.from(next) },
            { key: stamp, target: "Mod", result: "Less", mod_revision: copiedUpTo + 1 },
            { key: record, target: "Version", result: "Greater", version: 0 },
          ],
          success: [
            { request_put: { key: pointer, value: Buffer.from(next) } },
            { request_put: { key: Buffer.from(this.keys.next(head.generation)), value: Buffer.from(next) } },
            { request_delete_range: { key: seal } },
            // G′ is no longer an import in progress; G is now to be deleted, and
            // stays recorded (as long abandoned) until it is, in case that fails.
            { request_delete_range: { key: record } },
            { request_put: { key: Buffer.from(this.keys.importRecord(head.generation)), value: Buffer.from("0") } },
          ],
          failure: [{ request_range: { key: record } }],
        });
        if (res.succeeded) return Number(res.header.revision);
        if (!res.responses[0]?.response_range.kvs.length) {
          throw new ImportConflict("the import ran so long that it was taken for abandoned and deleted; nothing was imported");
        }
        // The seal lapsed (this process stalled past its lease) and writes may have slipped in: seal again.
      }
      throw new ImportConflict(`the import could not hold the table still to switch (${SWITCH_ATTEMPTS} attempts); nothing was imported`);
    } finally {
      await lease.revoke().catch(() => {});
    }
  }

  /** Route changes in `generation` from revision `from` through `to`, last one per host (undefined: deleted). */
  private async changesBetween(generation: string, from: number, to: number): Promise<Map<string, string | undefined>> {
    const changes = new Map<string, string | undefined>();
    const prefix = this.keys.generationPrefix(generation);
    const stream = (await this.client.watchClient.watch()) as unknown as WatchStream;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("etcd did not replay the raced writes in time")), Math.max(this.timeoutMs, 10_000));
        const settle = (fn: () => void) => {
          clearTimeout(timer);
          fn();
        };
        stream.on("error", (error: Error) => settle(() => reject(error)));
        stream.on("data", (res: IWatchResponse) => {
          if (res.compact_revision && res.compact_revision !== "0") {
            return settle(() => reject(new ImportConflict("routes changed during the import and etcd compacted that history; nothing was imported, retry")));
          }
          // A transaction's events arrive together in one response: read all of it.
          let reached = false;
          for (const event of res.events ?? []) {
            const revision = Number(event.kv.mod_revision);
            reached ||= revision >= to;
            if (revision > to) continue;
            const what = this.keys.classify(generation, event.kv.key.toString());
            if (what.kind === "route") changes.set(what.host, event.type === "Put" ? event.kv.value.toString() : undefined);
          }
          if (reached) settle(resolve);
        });
        stream.write({ create_request: { key: Buffer.from(prefix), range_end: prefixEnd(prefix), start_revision: from } });
      });
    } finally {
      stream.on("error", () => {});
      stream.cancel?.();
    }
    return changes;
  }

  // Step 4, and the clean-up of an import that failed: best effort, logged. The
  // import record goes last, so that a failed deletion is found and retried.
  private async dropGeneration(generation: string): Promise<void> {
    const prefix = this.keys.generationPrefix(generation);
    try {
      await this.client.kv.deleteRange({ key: Buffer.from(prefix), range_end: prefixEnd(prefix) }, within(Math.max(this.timeoutMs, 30_000)));
      await this.client.kv.deleteRange({ key: Buffer.from(this.keys.importRecord(generation)) });
    } catch (error) {
      this.logger.warn({ generation, err: String(error) }, "could not delete an old generation; it is unused and can be deleted by hand");
    }
  }
}
