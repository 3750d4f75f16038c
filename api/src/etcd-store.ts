// The route store in etcd mode (ROUTE_STORE=etcd). Reads — listings, /resolve,
// /changes — come from the local LMDB replica it inherits (replica.ts), exactly
// as in the embedded mode. Writes go to etcd as transactions, and a write is
// answered only once etcd has committed it AND this node's replica has applied
// that revision: the node that took a write routes by it when it answers.
// While etcd is unreachable writes are refused with 503 and reads go on.
import type { Etcd3, IRequestOp, ITxnResponse } from "etcd3";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { createEtcdClient, storeUnavailable, withinBudget } from "./etcd-client.ts";
import { EtcdFollower } from "./etcd-follower.ts";
import { EtcdImporter, ImportConflict, importOnEtcdWorker } from "./etcd-import.ts";
import { EtcdKeys } from "./etcd-keys.ts";
import { ApiError } from "./errors.ts";
import type { ImportOutcome } from "./import.ts";
import { ReplicaStore } from "./replica.ts";
import type { Entry, StoreOptions } from "./store.ts";
import type { EtcdConfig } from "./store-config.ts";

// How long a committed write may take to reach this node's replica before the
// answer says so (503) instead of acknowledging it.
const VISIBLE_WITHIN_MS = 10_000;
// A write finds the generation switched (an import) at most this often in a row.
const GENERATION_RETRIES = 5;
// How long a write waits for an import's switch (the seal's lease is 10 s), and how often it looks.
const SEALED_WAIT_MS = 15_000;
const SEALED_POLL_MS = 20;

export class EtcdRouteStore extends ReplicaStore {
  private readonly client: Etcd3;
  private readonly keys: EtcdKeys;
  private readonly follower: EtcdFollower;
  private readonly importer: EtcdImporter;
  private readonly timeoutMs: number;
  private readonly etcdConfig: EtcdConfig;

  constructor(options: StoreOptions & { etcd: EtcdConfig; logger: Logger }) {
    super(options);
    this.etcdConfig = options.etcd;
    this.timeoutMs = options.etcd.timeoutMs;
    this.keys = new EtcdKeys(options.etcd.prefix);
    this.client = createEtcdClient(options.etcd);
    const logger = options.logger.child({ component: "etcd" });
    this.follower = new EtcdFollower(this.client, this.keys, this, logger, this.timeoutMs);
    // For import() (entries already checked); POST /entries/import runs on a worker (importNdjson).
    this.importer = new EtcdImporter(this.client, this.keys, this.timeoutMs, logger, () => this.follower.readPointer());
  }

  /** Starts following etcd. Until etcd answers, the replica serves what it last had. */
  start(): void {
    this.follower.start();
  }

  override async put(host: string, backend: string): Promise<{ created: boolean; entry: Entry }> {
    const res = await this.write1((generation) => [
      { request_put: { key: Buffer.from(this.keys.route(generation, host)), value: Buffer.from(backend), prev_kv: true } },
    ]);
    const previous = res.responses[0]?.response_put.prev_kv;
    return { created: !previous, entry: { host, backend } };
  }

  override async delete(host: string): Promise<boolean> {
    const res = await this.write1((generation) => [{ request_delete_range: { key: Buffer.from(this.keys.route(generation, host)) } }]);
    return Number(res.responses[0]?.response_delete_range.deleted ?? 0) > 0;
  }

  override async import(entries: Iterable<Entry>): Promise<{ created: number; replaced: number; unchanged: number }> {
    const routes = new Map<string, string>();
    for (const { host, backend } of entries) routes.set(host, backend);
    const { revision: _, ...counts } = await this.importRoutes(routes);
    return counts;
  }

  override async importNdjson(body: Buffer): Promise<ImportOutcome> {
    const outcome = await importOnEtcdWorker(this.etcdConfig, body);
    switch (outcome.kind) {
      case "invalid":
        return { ok: false, problems: outcome.problems, badLines: outcome.badLines };
      case "conflict":
        throw new ApiError(409, "import_conflict", outcome.message);
      case "unavailable":
        throw storeUnavailable(new Error(outcome.message));
      case "imported": {
        const { kind: _, revision, ...counts } = outcome;
        if (revision > 0) await this.visible(revision, this.importVisibleWithin(counts.imported));
        return { ok: true, ...counts };
      }
    }
  }

  override health(): { degraded: boolean; details: Record<string, unknown> } {
    const { connected, watching, lastContact, lastError } = this.follower.health;
    const state = this.replicaState();
    const degraded = !connected || !watching;
    // What the replica is known to be current as of: the last word from etcd in
    // this process, or else (restarted while etcd is away) its last application.
    const currentAsOf = lastContact ?? state?.appliedAt;
    return {
      degraded,
      details: {
        store: {
          kind: "etcd",
          connected,
          watching,
          revision: state?.revision ?? 0,
          generation: state?.generation ?? null,
          last_contact: lastContact === undefined ? null : new Date(lastContact).toISOString(),
          // How far behind the replica may be: 0 while following, else the time since etcd was last heard.
          stale_ms: degraded ? (currentAsOf === undefined ? null : Date.now() - currentAsOf) : 0,
          ...(degraded && lastError ? { last_error: lastError } : {}),
        },
      },
    };
  }

  override async close(): Promise<void> {
    await this.follower.stop();
    this.client.close();
    await super.close();
  }

  private async importRoutes(routes: Map<string, string>) {
    // Nothing to import: no new generation (it would be a copy of the current one).
    if (routes.size === 0) return { created: 0, replaced: 0, unchanged: 0, revision: 0 };
    let counts;
    try {
      counts = await this.importer.import(routes);
    } catch (error) {
      if (error instanceof ImportConflict) throw new ApiError(409, "import_conflict", error.message);
      throw storeUnavailable(error);
    }
    await this.visible(counts.revision, this.importVisibleWithin(routes.size));
    return counts;
  }

  // The replica takes in a switched generation by reading all of it: allow for
  // the table's size (about 10 s per 100,000 routes on a slow machine).
  private importVisibleWithin(imported: number): number {
    return VISIBLE_WITHIN_MS + (this.count() + imported) / 10;
  }

  // One single write: `ops` on the current generation G, with G's stamp, if
  // `current` is still G and no import has sealed G for its switch. When an
  // import has switched generations the write is retried on the new one, so it
  // is never left behind in a generation no node reads; while G is sealed (a
  // switch takes milliseconds) the write waits for it.
  private async write1(ops: (generation: string) => IRequestOp[]): Promise<ITxnResponse> {
    const pointer = Buffer.from(this.keys.pointer);
    const giveUpAt = Date.now() + SEALED_WAIT_MS;
    try {
      let generation = this.replicaState()?.generation ?? (await this.follower.readPointer()).generation;
      for (let switches = 0; switches < GENERATION_RETRIES && Date.now() < giveUpAt; ) {
        const seal = Buffer.from(this.keys.seal(generation));
        const request = {
          compare: [
            { key: pointer, target: "Value" as const, result: "Equal" as const, value: Buffer.from(generation) },
            { key: seal, target: "Version" as const, result: "Equal" as const, version: 0 },
          ],
          success: [...ops(generation), { request_put: { key: Buffer.from(this.keys.stamp(generation)), value: Buffer.alloc(0) } }],
          failure: [{ request_range: { key: pointer } }],
        };
        const res = await withinBudget(this.timeoutMs, () => this.client.kv.txn(request));
        if (res.succeeded) {
          await this.visible(Number(res.header.revision));
          return res;
        }
        const current = res.responses[0]?.response_range.kvs[0]?.value.toString() ?? (await this.follower.readPointer()).generation;
        if (current !== generation) {
          generation = current;
          switches++;
        } else {
          await sleep(SEALED_POLL_MS);
        }
      }
    } catch (error) {
      if (error instanceof ApiError) throw error;
      throw storeUnavailable(error);
    }
    throw new ApiError(503, "store_busy", "imports kept replacing the routing table while this write was tried; nothing was written, retry");
  }

  // Read-your-writes: the answer waits until this node's replica has the revision.
  private async visible(revision: number, withinMs = VISIBLE_WITHIN_MS): Promise<void> {
    if (await this.follower.waitForRevision(revision, withinMs)) return;
    throw new ApiError(
      503,
      "replica_behind",
      `etcd committed the change (revision ${revision}) but this node's replica has not applied it within ${Math.round(withinMs / 1000)} s; other nodes may already route by it`,
    );
  }
}
