// Peak memory of the route API over a large import: the service's VmHWM after
// importing N generated routes into an empty store, then after a second import
// replacing every backend. Run: make bench-import (N=1000000 by default).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { authHeaders, request, startService } from "../api/test/fixtures/service-process.ts";
import { memoryOf } from "./lib/machine.ts";
import { generateEntries, toNdjson } from "./lib/routes.ts";

const N = Number(process.env.N ?? 1_000_000);
const TOKEN = "bench-import-token-0123456789";
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

const entries = generateEntries(N);
const bodies = [toNdjson(entries), toNdjson(entries.map((e) => ({ host: e.host, backend: "localhost:4000" })))];
const limit = Math.max(...bodies.map((b) => Buffer.byteLength(b))) + 2 ** 20;
const stateDir = mkdtempSync(join(tmpdir(), "set-backend-import-"));
const service = await startService({ stateDir, token: TOKEN, env: { LOG_LEVEL: "warn", IMPORT_LIMIT_BYTES: String(limit) } });
try {
  const start = memoryOf(service.pid);
  console.log(`${N} routes, body ${mib(Buffer.byteLength(bodies[0]!))}; service before: rss ${mib(start.rss)}`);
  for (const [i, body] of bodies.entries()) {
    const t0 = performance.now();
    const res = await request(service.public, "POST", "/entries/import", { headers: authHeaders(TOKEN, "application/x-ndjson"), body });
    const seconds = (performance.now() - t0) / 1000;
    if (res.status !== 200) throw new Error(`import ${i + 1}: ${res.status} ${res.body.slice(0, 300)}`);
    const m = memoryOf(service.pid);
    const what = i === 0 ? "into an empty store" : "replacing every backend";
    console.log(`import ${i + 1} (${what}): ${seconds.toFixed(2)} s; rss after ${mib(m.rss)}, peak so far (VmHWM) ${mib(m.peak)}`);
  }
} finally {
  await service.stop();
  rmSync(stateDir, { recursive: true, force: true });
}
