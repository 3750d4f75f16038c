// An import, off the service's event loop. Checking a million lines and the
// LMDB write transaction take seconds, and nginx's lookups (/resolve, /changes)
// must not wait for them. The worker opens the same LMDB environment (LMDB
// serializes writers across threads; readers never wait), applies the import in
// one transaction as RouteStore.import does, and answers with the outcome.
import { parentPort, workerData } from "node:worker_threads";
import { parseImport, type ImportOutcome } from "./import.ts";
import { RouteStore, type Entry } from "./store.ts";

const { dir, retainChanges, body } = workerData as { dir: string; retainChanges: number; body: Uint8Array };

// One short-lived object per route as the transaction reads it, rather than a
// million of them held for the whole import.
function* asEntries(routes: Map<string, string>): Generator<Entry> {
  for (const [host, backend] of routes) yield { host, backend };
}

async function run(): Promise<ImportOutcome> {
  const { routes, problems, badLines } = parseImport(body);
  if (badLines > 0) return { ok: false, problems, badLines };
  const store = new RouteStore({ dir, retainChanges });
  try {
    const counts = await store.import(asEntries(routes));
    return { ok: true, imported: routes.size, ...counts };
  } finally {
    await store.close();
  }
}

parentPort!.postMessage(await run());
