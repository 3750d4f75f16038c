// The internal listener (nginx's resolver filter ↔ the route API) against its one
// written contract, api/src/internal-openapi.ts: every documented answer is
// produced by a real call and matches its schema, and every route the listener
// serves is documented.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { Ajv2020 } from "ajv/dist/2020.js";
import { internalLimits, internalOpenapi } from "../src/internal-openapi.ts";
import { post, servedRoutes, startTestService } from "./helpers.ts";

type Operation = { responses: Record<string, { content?: Record<string, { schema: object }> }> };
const operation = (template: string) =>
  (internalOpenapi.paths as unknown as Record<string, Record<string, Operation>>)[template]?.get;

const calls: { path: string; template: string; status: number; expect?: (body: any) => boolean }[] = [
  { path: "/resolve/a.example.com", template: "/resolve/{host}", status: 200, expect: (b) => b.addresses[0] === "10.0.0.7:3000" && !("ttl_ms" in b) },
  { path: "/resolve/named.example.com", template: "/resolve/{host}", status: 200, expect: (b) => b.addresses[0] === "127.0.0.9:3000" && b.ttl_ms > 0 },
  { path: "/resolve/x.wild.example.com", template: "/resolve/{host}", status: 200, expect: (b) => b.match === "wildcard" },
  { path: "/resolve/broken.example.com", template: "/resolve/{host}", status: 200, expect: (b) => b.addresses.length === 0 && typeof b.error === "string" },
  { path: "/resolve/a%20b", template: "/resolve/{host}", status: 400 },
  { path: "/resolve/none.example.com", template: "/resolve/{host}", status: 404 },
  { path: "/changes?since=0", template: "/changes", status: 200, expect: (b) => b.changes.length === 4 },
  { path: "/changes?since=0&wait=1", template: "/changes", status: 200 },
  { path: "/changes?since=99999", template: "/changes", status: 200, expect: (b) => b.reset === true },
  { path: "/changes?since=-1", template: "/changes", status: 400 },
  { path: "/changes", template: "/changes", status: 400 },
  { path: "/healthz", template: "/healthz", status: 200 },
  { path: "/metrics", template: "/metrics", status: 200 },
];

test("every documented internal answer is what the service really does", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "set-backend-internal-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "hosts"), "127.0.0.9 app.test\n");
  const s = await startTestService(t, { BACKEND_HOSTS_FILE: join(dir, "hosts") });
  await post(s, "a.example.com", "10.0.0.7:3000");
  await post(s, "named.example.com", "app.test:3000");
  await post(s, "*.wild.example.com", "unix:/run/app.sock");
  await post(s, "broken.example.com", "nothing.invalid:80");
  const ajv = new Ajv2020({ strict: false });
  const seen = new Set<string>();
  for (const call of calls) {
    const op = operation(call.template);
    if (!op) {
      t.fail(`${call.template} is not documented`);
      continue;
    }
    const reply = await s.internal(call.path);
    t.is(reply.status, call.status, call.path);
    const documented = op.responses[String(reply.status)];
    if (!documented) {
      t.fail(`${call.path}: status ${reply.status} is not documented`);
      continue;
    }
    seen.add(`${call.template} ${reply.status}`);
    const [type, media] = Object.entries(documented.content ?? {})[0]!;
    t.true(String(reply.headers["content-type"]).startsWith(type), `${call.path}: ${reply.headers["content-type"]}`);
    if (type !== "application/json") continue;
    const validate = ajv.compile({ components: internalOpenapi.components, ...media!.schema });
    t.true(validate(reply.json()), `${call.path}: ${ajv.errorsText(validate.errors)} in ${reply.text}`);
    if (call.expect) t.true(call.expect(reply.json()), `${call.path}: ${reply.text}`);
  }
  for (const [template, item] of Object.entries(internalOpenapi.paths)) {
    for (const status of Object.keys((item as { get: Operation }).get.responses)) {
      t.true(seen.has(`${template} ${status}`), `no call produced GET ${template} ${status}`);
    }
  }
});

test("every route of the internal listener is documented", (t) => {
  const { internalRoutes } = servedRoutes(t);
  t.true(internalRoutes.length > 0);
  for (const [method, path] of internalRoutes) {
    const template = path.replace(/:(\w+)/g, "{$1}");
    t.is(method, "GET", `${method} ${path}`);
    t.truthy(operation(template), `${method} ${path} is served but not in internal-openapi.ts`);
  }
});

test("the contract's page size and largest seq are the API's", async (t) => {
  const s = await startTestService(t);
  // One import of a page and one more route: one change each, in one transaction.
  const lines = Array.from({ length: internalLimits.changesPage + 1 }, (_, i) => JSON.stringify({ host: `h${i}.example.com`, backend: "10.0.0.1:80" }));
  const imported = await s.api("/entries/import", { method: "POST", body: lines.join("\n"), headers: { "Content-Type": "application/x-ndjson" } });
  t.is(imported.status, 200, imported.text);
  const first = (await s.internal("/changes?since=0")).json();
  t.is(first.changes.length, internalLimits.changesPage, "a full page");
  t.is(first.seq, internalLimits.changesPage, "the page's seq is its last change's");
  t.is((await s.internal(`/changes?since=${first.seq}`)).json().changes.length, 1, "the rest from there");
  // The filter's first poll (no seq yet) asks from the largest seq the API accepts: a reset at the head.
  t.deepEqual((await s.internal(`/changes?since=${internalLimits.maxSince}`)).json(), { seq: internalLimits.changesPage + 1, reset: true });
  t.is((await s.internal(`/changes?since=${internalLimits.maxSince + 1}`)).status, 400);
});
