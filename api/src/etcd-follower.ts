// Keeps the local replica equal to etcd's current generation.
//
// A snapshot is read at one revision R (every page of it pinned to R), and the
// watch then starts at R + 1: never at "now", which would drop the writes made
// between the snapshot and the watch (apache/apisix#13917). The watch is ours,
// on the raw gRPC stream, not the etcd3 library's auto-resubscribing watcher,
// which restarts from the revision in the last response header and can skip
// events that were still in flight. On a reconnect we resume from the revision
// the replica has durably applied.
//
// A resync (the start revision was compacted, an import switched generations,
// the replica belongs to another cluster) reads a fresh snapshot and applies
// only the differences (replica.ts), so /changes announces only hosts that
// changed, not the whole table (apache/apisix#12167, #13303).
//
// While etcd is unreachable nothing here touches the replica: every route in it
// keeps being served. The loop retries with a short backoff and resumes.
import { EventEmitter } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import type { Etcd3, IWatchRequest, IWatchResponse, IEvent } from "etcd3";
import type { Logger } from "pino";
import { within } from "./etcd-client.ts";
import { EtcdKeys, SNAPSHOT_PAGE, prefixEnd } from "./etcd-keys.ts";
import { readPointer, type Pointer } from "./etcd-pointer.ts";
import type { ReplicaState, ReplicaStore } from "./replica.ts";


type WatchEnd = "switched" | "compacted" | "stopped";

// The gRPC duplex stream behind etcd3's IDuplexStream type, as far as it is used here.
type WatchStream = EventEmitter & { write(request: IWatchRequest): void; cancel?(): void };

export interface FollowerHealth {
  /** etcd answered the last probe (a linearizable read: quorum is there). */
  connected: boolean;
  /** The replica's watch is established. */
  watching: boolean;
  /** When etcd last answered this process (ms since the epoch), if it has since start. */
  lastContact: number | undefined;
  lastError: string | undefined;
}

export class EtcdFollower {
  private stopped = false;
  private readonly applied = new EventEmitter();
  private running: Promise<void> | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private probing = false;
  private stopWatch: (() => void) | undefined;
  private resyncNeeded = false;
  private lastLogged = { message: "", at: 0 };
  readonly health: FollowerHealth = { connected: false, watching: false, lastContact: undefined, lastError: undefined };

  constructor(
    private readonly client: Etcd3,
    private readonly keys: EtcdKeys,
    private readonly replica: ReplicaStore,
    private readonly logger: Logger,
    private readonly timeoutMs: number,
  ) {
    this.applied.setMaxListeners(0);
  }

  start(): void {
    this.running = this.run();
    this.probeTimer = setInterval(() => void this.probe(), 1000);
    void this.probe();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.probeTimer);
    this.stopWatch?.();
    this.applied.emit("revision");
    await this.running;
  }

  /** The revision the replica has applied (0 before its first snapshot). */
  get revision(): number {
    return this.replica.replicaState()?.revision ?? 0;
  }

  /** Resolves true once the replica has applied `revision`, false after `ms`. */
  waitForRevision(revision: number, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.revision >= revision) return resolve(true);
      const check = () => {
        if (this.revision < revision && !this.stopped) return;
        clearTimeout(timer);
        this.applied.off("revision", check);
        resolve(this.revision >= revision);
      };
      const timer = setTimeout(() => {
        this.applied.off("revision", check);
        resolve(this.revision >= revision);
      }, ms);
      this.applied.on("revision", check);
    });
  }

  private heard(): void {
    this.health.lastContact = Date.now();
  }

  // A linearizable read every second: it fails without quorum, which is what
  // "connected" must mean for a node that would refuse writes.
  private async probe(): Promise<void> {
    if (this.probing || this.stopped) return;
    this.probing = true;
    try {
      await this.client.kv.range({ key: Buffer.from(this.keys.pointer) });
      this.health.connected = true;
      this.heard();
    } catch (error) {
      if (this.health.connected) this.logger.warn({ err: String(error) }, "etcd unreachable: serving routes from the local replica");
      this.health.connected = false;
      this.health.lastError = (error as Error).message;
    } finally {
      this.probing = false;
    }
  }

  private async run(): Promise<void> {
    let delay = 100;
    while (!this.stopped) {
      try {
        const state = await this.prepare();
        const end = await this.watch(state);
        if (end !== "stopped") {
          this.logger.info({ reason: end, revision: this.revision }, "replica resyncing from a fresh snapshot");
          this.resyncNeeded = true;
        }
        delay = 100;
      } catch (error) {
        this.health.watching = false;
        if (this.stopped) break;
        this.health.lastError = (error as Error).message;
        // Retried every 2 s while etcd is away: log a new error, and the same one once a minute.
        const message = String(error);
        if (message !== this.lastLogged.message || Date.now() - this.lastLogged.at > 60_000) {
          this.logger.warn({ err: message, retry_ms: delay }, "replica cannot follow etcd; retrying");
          this.lastLogged = { message, at: Date.now() };
        }
        await sleep(delay);
        delay = Math.min(delay * 2, 2000);
      }
    }
  }

  // Where to watch from: the replica's own revision when it is a faithful copy
  // of this cluster's current generation, else a fresh snapshot.
  private async prepare(): Promise<ReplicaState> {
    const head = await this.readPointer();
    const state = this.replica.replicaState();
    const stale =
      !state ||
      this.resyncNeeded ||
      state.prefix !== this.keys.prefix ||
      state.clusterId !== head.clusterId ||
      state.generation !== head.generation ||
      // etcd restored from an older backup: our revisions mean nothing there.
      state.revision > head.revision;
    if (!stale) return state;
    return this.resync();
  }

  /** The current generation and the revision it was read at (etcd-pointer.ts). */
  async readPointer(): Promise<Pointer> {
    const pointer = await readPointer(this.client, this.keys);
    this.heard();
    return pointer;
  }

  /** Reads the current generation at one revision and makes the replica equal it. */
  private async resync(): Promise<ReplicaState> {
    const started = Date.now();
    const head = await this.readPointer();
    const table = await this.readGeneration(head.generation, head.revision);
    const size = table.size;
    const state: ReplicaState = { revision: head.revision, generation: head.generation, clusterId: head.clusterId, prefix: this.keys.prefix };
    const counts = await this.replica.replaceAll(table, { ...state, appliedAt: Date.now() });
    this.resyncNeeded = false;
    this.applied.emit("revision");
    this.logger.info({ revision: head.revision, generation: head.generation, routes: size, ...counts, ms: Date.now() - started }, "replica synced from a snapshot");
    return state;
  }

  /** Every route of `generation` as of `revision`, page by page, all pages at that one revision. */
  async readGeneration(generation: string, revision: number): Promise<Map<string, string>> {
    const prefix = this.keys.generationPrefix(generation);
    const end = prefixEnd(prefix);
    const table = new Map<string, string>();
    let start = Buffer.from(prefix);
    for (;;) {
      const res = await this.client.kv.range({ key: start, range_end: end, revision, limit: SNAPSHOT_PAGE }, within(Math.max(this.timeoutMs, 30_000)));
      this.heard();
      for (const kv of res.kvs) {
        const what = this.keys.classify(generation, kv.key.toString());
        if (what.kind === "route") table.set(what.host, kv.value.toString());
      }
      if (!res.more || res.kvs.length === 0) return table;
      start = Buffer.concat([res.kvs[res.kvs.length - 1]!.key, Buffer.from([0])]);
    }
  }

  // Follows generation `from.generation` from `from.revision + 1`. Resolves when
  // a resync is due (the generation was switched, or the start was compacted),
  // rejects when the stream fails; either way only after every event received
  // has been applied.
  private async watch(from: ReplicaState): Promise<WatchEnd> {
    const stream = (await this.client.watchClient.watch()) as unknown as WatchStream;
    const state = { ...from };
    const prefix = this.keys.generationPrefix(state.generation);
    return new Promise<WatchEnd>((resolve, reject) => {
      // Responses that arrive while the replica applies earlier ones are applied
      // together, in one LMDB transaction (one flush) rather than one each.
      let queue: { events: IEvent[]; progress: number }[] = [];
      let applying: Promise<void> = Promise.resolve();
      let draining = false;
      let done = false;
      const finish = (settle: () => void) => {
        if (done) return;
        done = true;
        this.health.watching = false;
        this.stopWatch = undefined;
        stream.removeAllListeners("data");
        stream.on("error", () => {}); // cancelling makes the stream report CANCELLED
        void applying.catch(() => {}).then(() => {
          stream.cancel?.();
          settle();
        });
      };
      this.stopWatch = () => finish(() => resolve("stopped"));
      stream.on("data", (res: IWatchResponse) => {
        if (done) return;
        this.heard();
        if (res.compact_revision && res.compact_revision !== "0") {
          this.logger.warn({ from: state.revision + 1, compacted: res.compact_revision }, "watch start was compacted");
          return finish(() => resolve("compacted"));
        }
        if (res.canceled) return finish(() => reject(new Error(`etcd canceled the watch: ${res.cancel_reason || "no reason given"}`)));
        if (res.created) {
          this.health.watching = true;
          this.logger.info({ generation: state.generation, from: state.revision + 1 }, "replica following etcd");
          return;
        }
        // No events: a progress notification. etcd has sent every event of
        // this range up to header.revision, so the replica is current as of it.
        const events = res.events ?? [];
        const progress = events.length === 0 ? Number(res.header.revision) : 0;
        queue.push({ events, progress });
        if (draining) return;
        draining = true;
        applying = (async () => {
          while (queue.length > 0 && !done) {
            const batch = queue;
            queue = [];
            // In stream order: every progress revision covers the events before it.
            const switched = await this.apply(
              state,
              batch.flatMap((item) => item.events),
              Math.max(...batch.map((item) => item.progress)),
            );
            if (switched) return finish(() => resolve("switched"));
          }
        })()
          .catch((error) => finish(() => reject(error)))
          .finally(() => (draining = false));
      });
      stream.on("error", (error: Error) => finish(() => reject(error)));
      stream.on("end", () => finish(() => reject(new Error("the watch stream ended"))));
      stream.write({
        create_request: { key: Buffer.from(prefix), range_end: prefixEnd(prefix), start_revision: state.revision + 1, progress_notify: true },
      });
    });
  }

  // One watch response in one LMDB transaction, up to the switch marker:
  // what follows it in the old generation (its deletion) is not ours to apply.
  // A progress notification (`progress`, no events) moves the stored revision
  // on: an edge whose routes are quiet while other keys in etcd are busy then
  // resumes its watch after a disconnection from a recent revision, not from
  // one compaction has removed, which would cost a resync (apache/apisix#12514).
  private async apply(state: ReplicaState, events: IEvent[], progress = 0): Promise<boolean> {
    const changes = new Map<string, string | undefined>();
    let revision = state.revision;
    let switched = false;
    for (const event of events) {
      const eventRevision = Number(event.kv.mod_revision);
      if (eventRevision <= state.revision) continue;
      const what = this.keys.classify(state.generation, event.kv.key.toString());
      if (what.kind === "next") {
        switched = true;
        break;
      }
      revision = eventRevision;
      if (what.kind === "route") changes.set(what.host, event.type === "Put" ? event.kv.value.toString() : undefined);
    }
    if (!switched && progress > revision) revision = progress;
    if (revision > state.revision) {
      state.revision = revision;
      await this.replica.applyChanges(changes, { ...state, appliedAt: Date.now() });
      this.applied.emit("revision");
    }
    return switched;
  }
}
