// The route store: entries, the changes log and its sequence counter live in one
// LMDB environment, and every write touches all three in one transaction, so a
// crash can never separate a route from the change that announces it.
import { EventEmitter } from "node:events";
import { join } from "node:path";
import { open, type Database, type RootDatabase } from "lmdb";
import { candidatePatterns, type MatchKind } from "./hosts.ts";
import { importOnWorker, type ImportOutcome } from "./import.ts";

export interface Entry {
  host: string;
  backend: string;
}

export interface Resolution extends Entry {
  match: MatchKind;
  pattern: string;
}

export type ChangeOp = "put" | "delete";

export interface Change {
  seq: number;
  op: ChangeOp;
  host: string;
}

export type ChangesPage = { seq: number; changes: Change[] } | { seq: number; reset: true };

export interface StoreOptions {
  /** Directory holding routes.mdb and its lock file. */
  dir: string;
  /** How many changes the log keeps; followers further behind get a reset. */
  retainChanges?: number;
}

interface Meta {
  /** The sequence number of the last change; 0 before the first. */
  seq: number;
  /** The first sequence number still in the log; changes after `firstSeq - 1` are complete. */
  firstSeq: number;
}

const META_KEY = "log";

export class RouteStore {
  readonly dir: string;
  readonly retainChanges: number;
  // Protected: the etcd replica (replica.ts) writes the same databases.
  protected readonly env: RootDatabase;
  protected readonly entries: Database<string, string>;
  private readonly changes: Database<{ op: ChangeOp; host: string }, number>;
  protected readonly meta: Database<Meta, string>;
  // Fires "seq" with the new sequence number once a write is durable.
  private readonly committed = new EventEmitter();

  constructor(options: StoreOptions) {
    this.dir = options.dir;
    this.retainChanges = options.retainChanges ?? 10_000;
    this.env = open({ path: join(options.dir, "routes.mdb"), maxDbs: 4 });
    this.entries = this.env.openDB<string, string>({ name: "entries", encoding: "string" });
    this.changes = this.env.openDB<{ op: ChangeOp; host: string }, number>({ name: "changes", encoding: "msgpack" });
    this.meta = this.env.openDB<Meta, string>({ name: "meta", encoding: "json" });
    // Long-poll waiters each add a listener; there is no leak to warn about.
    this.committed.setMaxListeners(0);
  }

  get seq(): number {
    return this.readMeta().seq;
  }

  get(host: string): Entry | undefined {
    const backend = this.entries.get(host);
    return backend === undefined ? undefined : { host, backend };
  }

  count(): number {
    return (this.entries.getStats() as { entryCount: number }).entryCount;
  }

  /** Creates or replaces a route. Resolves once the write is on disk. */
  async put(host: string, backend: string): Promise<{ created: boolean; entry: Entry }> {
    let created = false;
    await this.write(() => {
      const previous = this.entries.get(host);
      created = previous === undefined;
      if (previous === backend) return;
      this.entries.putSync(host, backend);
      this.appendChanges([{ op: "put", host }]);
    });
    return { created, entry: { host, backend } };
  }

  /** Removes a route; false when there was none. Resolves once the removal is on disk. */
  async delete(host: string): Promise<boolean> {
    let existed = false;
    await this.write(() => {
      existed = this.entries.get(host) !== undefined;
      if (!existed) return;
      this.entries.removeSync(host);
      this.appendChanges([{ op: "delete", host }]);
    });
    return existed;
  }

  /**
   * Applies many routes in one transaction: after a crash either all are there or
   * none. An import larger than the retained log is announced as a reset instead
   * of one change per entry, so the log stays bounded.
   */
  async import(entries: Iterable<Entry>): Promise<{ created: number; replaced: number; unchanged: number }> {
    const result = { created: 0, replaced: 0, unchanged: 0 };
    await this.write(() => {
      const changed: { op: ChangeOp; host: string }[] = [];
      for (const { host, backend } of entries) {
        const previous = this.entries.get(host);
        if (previous === backend) {
          result.unchanged++;
          continue;
        }
        if (previous === undefined) result.created++;
        else result.replaced++;
        this.entries.putSync(host, backend);
        if (changed.length <= this.retainChanges) changed.push({ op: "put", host });
      }
      if (changed.length > this.retainChanges) this.resetLog();
      else this.appendChanges(changed);
    });
    return result;
  }

  /**
   * Which route serves a normalized request host: the exact host, then `*.<suffix>`
   * from the most specific suffix, then `*` (candidatePatterns in hosts.ts; README.md,
   * "Hosts"; tests/vectors/hosts.json).
   */
  resolve(host: string): Resolution | undefined {
    for (const { pattern, match } of candidatePatterns(host)) {
      const backend = this.entries.get(pattern);
      if (backend !== undefined) return { host, backend, match, pattern };
    }
    return undefined;
  }

  /**
   * Entries sorted by host, read lazily from one snapshot so that a listing of a
   * million routes never sits in memory. `after` is exclusive.
   */
  *list(options: { prefix?: string; after?: string; limit?: number } = {}): Generator<Entry> {
    const { prefix = "", after, limit = Infinity } = options;
    const start = after !== undefined && after >= prefix ? after : prefix;
    let sent = 0;
    for (const { key, value } of this.entries.getRange({ start, snapshot: true })) {
      if (sent >= limit) return;
      if (!key.startsWith(prefix)) return;
      if (after !== undefined && key <= after) continue;
      sent++;
      yield { host: key, backend: value };
    }
  }

  /** The changes after `since`, at most `max` of them; a reset when `since` is outside the log. */
  changesSince(since: number, max = 1000): ChangesPage {
    const { seq, firstSeq } = this.readMeta();
    if (since > seq || since < firstSeq - 1) return { seq, reset: true };
    const changes: Change[] = [];
    for (const { key, value } of this.changes.getRange({ start: since + 1, limit: max })) {
      changes.push({ seq: key, op: value.op, host: value.host });
    }
    return { seq: changes.length > 0 ? changes[changes.length - 1]!.seq : seq, changes };
  }

  /**
   * Resolves with the current sequence number as soon as it passes `since`, or
   * after `ms` milliseconds, or when `signal` aborts — whichever comes first.
   */
  waitForChange(since: number, ms: number, signal?: AbortSignal): Promise<number> {
    return new Promise((resolve) => {
      if (this.seq !== since || signal?.aborted) return resolve(this.seq);
      const finish = () => {
        clearTimeout(timer);
        this.committed.off("seq", onSeq);
        signal?.removeEventListener("abort", finish);
        resolve(this.seq);
      };
      const onSeq = (seq: number) => {
        if (seq !== since) finish();
      };
      const timer = setTimeout(finish, ms);
      this.committed.on("seq", onSeq);
      signal?.addEventListener("abort", finish);
    });
  }

  /**
   * Checks and applies an NDJSON import (all lines or none) on a worker thread
   * that opens this same environment, then wakes the long-polls.
   */
  async importNdjson(body: Buffer): Promise<ImportOutcome> {
    const outcome = await importOnWorker({ dir: this.dir, retainChanges: this.retainChanges, body });
    if (outcome.ok) this.announceExternalWrite();
    return outcome;
  }

  /** What /healthz adds about the store: nothing for the embedded one. */
  health(): { degraded: boolean; details?: Record<string, unknown> } {
    return { degraded: false };
  }

  /** Wakes long-polls after another thread (the import worker) wrote to this environment. */
  announceExternalWrite(): void {
    this.committed.emit("seq", this.seq);
  }

  async close(): Promise<void> {
    this.committed.emit("seq", Number.NaN);
    await this.env.close();
  }

  protected readMeta(): Meta {
    return this.meta.get(META_KEY) ?? { seq: 0, firstSeq: 1 };
  }

  // Runs `fn` in a write transaction and returns once LMDB has flushed it to disk:
  // only then may the caller acknowledge the write.
  protected async write(fn: () => void): Promise<void> {
    const before = this.seq;
    await this.env.transaction(fn);
    await this.env.flushed;
    const after = this.seq;
    if (after !== before) this.committed.emit("seq", after);
  }

  // Must run inside a write transaction.
  protected appendChanges(ops: { op: ChangeOp; host: string }[]): void {
    if (ops.length === 0) return;
    const meta = this.readMeta();
    for (const op of ops) {
      meta.seq++;
      this.changes.putSync(meta.seq, op);
    }
    // Prune from the oldest end so that at most retainChanges remain.
    const keepFrom = meta.seq - this.retainChanges + 1;
    if (keepFrom > meta.firstSeq) {
      for (const key of this.changes.getKeys({ start: meta.firstSeq, end: keepFrom })) this.changes.removeSync(key);
      meta.firstSeq = keepFrom;
    }
    this.meta.putSync(META_KEY, meta);
  }

  // Must run inside a write transaction: drops the whole log and moves the
  // sequence on, so every follower's next poll answers `reset`.
  protected resetLog(): void {
    const meta = this.readMeta();
    for (const key of this.changes.getKeys({ start: meta.firstSeq, end: meta.seq + 1 })) this.changes.removeSync(key);
    meta.seq++;
    meta.firstSeq = meta.seq + 1;
    this.meta.putSync(META_KEY, meta);
  }
}
