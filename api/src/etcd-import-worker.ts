// An etcd-mode import, off the route API's event loop: checking a million NDJSON
// lines and writing them into a new generation take seconds to minutes, and
// this edge's /resolve and /changes must not wait for them (import-worker.ts
// does the same for the embedded store). The worker has its own etcd client;
// it answers with the outcome, and the route API then waits for its own replica.
import { parentPort, workerData } from "node:worker_threads";
import { createEtcdClient } from "./etcd-client.ts";
import { EtcdImporter, ImportConflict, type EtcdImportOutcome } from "./etcd-import.ts";
import { EtcdKeys } from "./etcd-keys.ts";
import { readPointer } from "./etcd-pointer.ts";
import { parseImport } from "./import.ts";
import { createLogger } from "./log.ts";
import type { EtcdConfig } from "./store-config.ts";

const { etcd, body } = workerData as { etcd: EtcdConfig; body: Uint8Array };

// Buffers arrive as plain Uint8Arrays; gRPC's TLS wants Buffers.
function revive(config: EtcdConfig): EtcdConfig {
  if (!config.tls) return config;
  const { ca, cert, key } = config.tls;
  return { ...config, tls: { ca: Buffer.from(ca), ...(cert && key ? { cert: Buffer.from(cert), key: Buffer.from(key) } : {}) } };
}

const config = revive(etcd);
const client = createEtcdClient(config);
const keys = new EtcdKeys(config.prefix);
const logger = createLogger().child({ component: "etcd-import" });
const importer = new EtcdImporter(client, keys, config.timeoutMs, logger, () => readPointer(client, keys));

async function run(): Promise<EtcdImportOutcome> {
  const { routes, problems, badLines } = parseImport(body);
  if (badLines > 0) return { kind: "invalid", problems, badLines };
  // Nothing to import: no new generation (it would be a copy of the current one).
  if (routes.size === 0) return { kind: "imported", imported: 0, created: 0, replaced: 0, unchanged: 0, revision: 0 };
  try {
    const counts = await importer.import(routes);
    return { kind: "imported", imported: routes.size, ...counts };
  } catch (error) {
    if (error instanceof ImportConflict) return { kind: "conflict", message: error.message };
    return { kind: "unavailable", message: (error as Error).message };
  }
}

// Answer first; then finish deleting the replaced (or failed) generation and exit.
parentPort!.postMessage(await run());
await importer.idle();
client.close();
