// The `current` key: which generation every edge routes by (etcd-keys.ts).
import type { Etcd3 } from "etcd3";
import { FIRST_GENERATION, type EtcdKeys } from "./etcd-keys.ts";

export interface Pointer {
  generation: string;
  /** The revision it was read at: a snapshot of the generation at this revision is consistent with it. */
  revision: number;
  clusterId: string;
}

/** Reads `current`, creating it (the first generation) on a cluster that has never held a table. */
export async function readPointer(client: Etcd3, keys: EtcdKeys): Promise<Pointer> {
  const pointer = Buffer.from(keys.pointer);
  for (;;) {
    const res = await client.kv.range({ key: pointer });
    const kv = res.kvs[0];
    if (kv) return { generation: kv.value.toString(), revision: Number(res.header.revision), clusterId: res.header.cluster_id };
    // Every node may race to create it; only the first succeeds, the others read it.
    await client.kv.txn({
      compare: [{ key: pointer, target: "Version", result: "Equal", version: 0 }],
      success: [{ request_put: { key: pointer, value: Buffer.from(FIRST_GENERATION) } }],
      failure: [],
    });
  }
}
