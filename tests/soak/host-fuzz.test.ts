// Host-header fuzzing of `make run`'s system over raw sockets: every case gets
// a 4xx, the 404 page, or (a routed name written another way) its backend —
// never a 5xx, never a hang, and no worker dies. FUZZ_CASES (default 2000) and
// FUZZ_SEED (printed; replays a run).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { startLauncher } from "../e2e/launcher.ts";
import { freePort, send } from "../lib/net.ts";
import { fuzzCases, ROUTED_HOST, sendRaw, WILDCARD_ROUTE, type RawAnswer } from "./host-fuzz.ts";
import { currentWorkers } from "./procs.ts";
import { startBackend } from "./traffic.ts";

const CASES = Number(process.env.FUZZ_CASES ?? 2000);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));
const CONCURRENCY = 8;
const TIMEOUT_MS = 15_000;

/** What a case's answer must be; undefined when it is right. */
function wrong(answer: RawAnswer, routed: boolean): string | undefined {
  if (answer.hung) return `no answer and no close within ${TIMEOUT_MS / 1000} s`;
  if (answer.statuses.some((s) => s >= 500)) return `a 5xx (${answer.statuses.join(", ")})`;
  if (routed) return answer.status === 200 && /\r\nX-Backend: fuzz\r\n/i.test(answer.text) ? undefined : `expected the backend, got ${answer.status}`;
  if (answer.status >= 400 && answer.status < 500) return undefined;
  // A name that is valid after all: the backend (under the wildcard) or the 404 page.
  if (answer.status === 200 && /\r\nX-Backend: fuzz\r\n/i.test(answer.text)) return undefined;
  return answer.status === 0 ? "closed without an answer" : `status ${answer.status}`;
}

test("hostile Host headers get a 4xx or a page, never a 5xx, a hang or a crash", async (t) => {
  t.timeout(10 * 60_000);
  t.log(`seed ${SEED} (FUZZ_SEED=${SEED} replays it), ${CASES} cases`);
  const metricsPort = await freePort();
  const run = await startLauncher(t, { METRICS_PORT: String(metricsPort), LOG_LEVEL: "warn" });
  const master = Number(readFileSync(join(run.stateDir, "nginx.pid"), "utf8"));
  const backend = await startBackend("fuzz");
  t.teardown(() => backend.close());
  for (const host of [ROUTED_HOST, WILDCARD_ROUTE]) t.is((await run.manage("PUT", `/entries/${host}.json`, { backend: backend.address })).status, 201);
  const workers = currentWorkers(master);
  t.is(workers.length, 2);

  const cases = fuzzCases(SEED, CASES);
  const byFamily = new Map<string, { cases: number; statuses: Map<number, number> }>();
  const failures: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < cases.length) {
        const index = next++;
        const c = cases[index]!;
        const answer = await sendRaw(run.port, c.request, TIMEOUT_MS);
        const family = byFamily.get(c.family) ?? { cases: 0, statuses: new Map() };
        byFamily.set(c.family, family);
        family.cases++;
        family.statuses.set(answer.status, (family.statuses.get(answer.status) ?? 0) + 1);
        const why = wrong(answer, c.routed);
        if (why) failures.push(`case ${index} (${c.family}): ${why}; request ${JSON.stringify(c.request.toString("latin1").slice(0, 200))}`);
      }
    }),
  );

  for (const [family, { cases: n, statuses }] of byFamily) {
    t.log(`  ${family.padEnd(18)} ${String(n).padStart(4)} cases: ${[...statuses].sort(([a], [b]) => a - b).map(([s, k]) => `${s || "closed"}×${k}`).join(" ")}`);
  }
  for (const f of failures.slice(0, 20)) t.log(`  FAILED ${f}`);
  t.deepEqual(failures.slice(0, 20), [], `${failures.length} of ${cases.length} cases answered wrong`);

  // Nothing died: the same workers, no crash in nginx's log, no 500 from the module, and routing still works.
  t.deepEqual(currentWorkers(master), workers, "the workers were replaced");
  t.notRegex(run.output(), /exited on signal/);
  const metrics = (await send(metricsPort, "127.0.0.1", "/metrics")).body;
  t.notRegex(metrics, /result="error"[^\n]* [1-9]/, "the module answered 500");
  t.is((await send(run.port, ROUTED_HOST)).status, 200);
});
