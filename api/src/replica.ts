// The local replica of the etcd table: the same LMDB environment as the
// embedded store (so /resolve, /changes and listings read it exactly as they
// read the embedded store), written only by the etcd follower. Every
// application stores the etcd revision it reached in the same LMDB transaction
// as the routes and the change log, so after a crash or restart the replica
// knows exactly where to resume and its /changes sequence keeps growing.
import type { Database } from "lmdb";
import { RouteStore, type ChangeOp } from "./store.ts";

export interface ReplicaState {
  /** The etcd revision the table equals (every event up to it is applied). */
  revision: number;
  /** The generation the table is a copy of (etcd-keys.ts). */
  generation: string;
  /** The etcd cluster it came from: a replica from another cluster is resynced, not resumed. */
  clusterId: string;
  /** ETCD_PREFIX it was read under. */
  prefix: string;
  /** When the replica last applied something from etcd (ms since the epoch): how old it may be. */
  appliedAt?: number;
}

const STATE_KEY = "replica";

export class ReplicaStore extends RouteStore {
  private get stateDb(): Database<ReplicaState, string> {
    return this.meta as unknown as Database<ReplicaState, string>;
  }

  replicaState(): ReplicaState | undefined {
    return this.stateDb.get(STATE_KEY);
  }

  /**
   * Applies events from the watch: `backend` undefined deletes the host.
   * Announces on /changes only hosts whose route really changed.
   */
  async applyChanges(changes: Map<string, string | undefined>, state: ReplicaState): Promise<number> {
    let changed = 0;
    await this.write(() => {
      const log: { op: ChangeOp; host: string }[] = [];
      for (const [host, backend] of changes) {
        const previous = this.entries.get(host);
        if (previous === backend) continue;
        if (backend === undefined) this.entries.removeSync(host);
        else this.entries.putSync(host, backend);
        log.push({ op: backend === undefined ? "delete" : "put", host });
      }
      changed = log.length;
      this.announce(log);
      this.stateDb.putSync(STATE_KEY, state);
    });
    return changed;
  }

  /**
   * Makes the table equal `table` (a full snapshot of one generation at one
   * revision) in one transaction, touching and announcing only the differences:
   * a resync after compaction or an import costs what changed, not the table.
   * Consumes `table`: unchanged routes are removed from it as they are found.
   */
  async replaceAll(table: Map<string, string>, state: ReplicaState): Promise<{ put: number; deleted: number }> {
    const counts = { put: 0, deleted: 0 };
    await this.write(() => {
      const log: { op: ChangeOp; host: string }[] = [];
      const gone: string[] = [];
      for (const { key, value } of this.entries.getRange({})) {
        const wanted = table.get(key);
        if (wanted === undefined) gone.push(key);
        else if (wanted === value) table.delete(key); // unchanged: nothing to do for it below
      }
      for (const host of gone) {
        this.entries.removeSync(host);
        log.push({ op: "delete", host });
      }
      for (const [host, backend] of table) {
        this.entries.putSync(host, backend);
        log.push({ op: "put", host });
      }
      counts.deleted = gone.length;
      counts.put = table.size;
      this.announce(log);
      this.stateDb.putSync(STATE_KEY, state);
    });
    return counts;
  }

  // As the embedded import does: more changes than the log keeps become one reset.
  private announce(log: { op: ChangeOp; host: string }[]): void {
    if (log.length > this.retainChanges) this.resetLog();
    else this.appendChanges(log);
  }
}
