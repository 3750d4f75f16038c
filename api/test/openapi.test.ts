// Walks every operation of /openapi.json against the real service: each
// documented answer is produced by a real request and its body is checked
// against the documented schema; every route the service has is documented.
import http from "node:http";
import type { AddressInfo } from "node:net";
import test from "ava";
import { Ajv2020 } from "ajv/dist/2020.js";
import { openapi } from "../src/openapi.ts";
import { post, servedRoutes, startTestService, type Reply } from "./helpers.ts";

interface Call {
  method: string;
  path: string;
  /** The documented path template this call exercises. */
  template: string;
  body?: string;
  headers?: Record<string, string>;
  auth?: boolean;
  status: number;
  /** Runs before the call (e.g. takes the edge away). */
  before?: () => Promise<void>;
}

// The nginx edge's metrics listener, as /edge/metrics reads it (stopped to produce the 503).
const edge = http.createServer((_req, res) => res.end("set_backend_requests_total 1\n"));
await new Promise<void>((r) => edge.listen(0, "127.0.0.1", r));
const edgeUrl = `http://127.0.0.1:${(edge.address() as AddressInfo).port}/metrics`;
const stopEdge = () => new Promise<void>((r) => (edge.closeAllConnections(), edge.close(() => r())));

const ndjson = { "Content-Type": "application/x-ndjson" };
const big = JSON.stringify({ backend: "x".repeat(70_000) });
const calls: Call[] = [
  { method: "GET", path: "/", template: "/", status: 200 },
  { method: "GET", path: "/openapi.json", template: "/openapi.json", status: 200 },
  { method: "GET", path: "/healthz", template: "/healthz", status: 200, auth: false },
  { method: "GET", path: "/ui", template: "/ui", status: 200, auth: false },
  { method: "GET", path: "/ui/main.js", template: "/ui/{file}", status: 200, auth: false },
  { method: "GET", path: "/ui/nope.js", template: "/ui/{file}", status: 404, auth: false },
  { method: "GET", path: "/metrics", template: "/metrics", status: 200 },
  { method: "GET", path: "/metrics", template: "/metrics", status: 401, auth: false },
  { method: "GET", path: "/edge/metrics", template: "/edge/metrics", status: 200 },
  { method: "GET", path: "/edge/metrics", template: "/edge/metrics", status: 401, auth: false },
  { method: "GET", path: "/edge/metrics", template: "/edge/metrics", status: 503, before: stopEdge },
  { method: "GET", path: "/entries.json", template: "/entries.json", status: 200 },
  { method: "GET", path: "/entries.json?limit=1", template: "/entries.json", status: 200 },
  { method: "GET", path: "/entries.json?limit=0", template: "/entries.json", status: 400 },
  { method: "GET", path: "/entries.json", template: "/entries.json", status: 401, auth: false },
  { method: "POST", path: "/entries.json", template: "/entries.json", body: '{"host":"new.example.com","backend":"localhost:1"}', status: 201 },
  { method: "POST", path: "/entries.json", template: "/entries.json", body: '{"host":"new.example.com","backend":"localhost:2"}', status: 200 },
  { method: "POST", path: "/entries.json", template: "/entries.json", body: '{"host":"x y","backend":"localhost:2"}', status: 400 },
  { method: "POST", path: "/entries.json", template: "/entries.json", body: "{}", status: 401, auth: false },
  { method: "POST", path: "/entries.json", template: "/entries.json", body: big, status: 413 },
  { method: "POST", path: "/entries.json", template: "/entries.json", body: "{}", headers: { "Content-Type": "text/plain" }, status: 415 },
  { method: "GET", path: "/entries/a.example.com.json", template: "/entries/{host}.json", status: 200 },
  { method: "GET", path: "/entries/a%20b.json", template: "/entries/{host}.json", status: 400 },
  { method: "GET", path: "/entries/a.example.com.json", template: "/entries/{host}.json", status: 401, auth: false },
  { method: "GET", path: "/entries/none.example.com.json", template: "/entries/{host}.json", status: 404 },
  { method: "PUT", path: "/entries/put.example.com.json", template: "/entries/{host}.json", body: '{"backend":"localhost:1"}', status: 201 },
  { method: "PUT", path: "/entries/put.example.com.json", template: "/entries/{host}.json", body: '{"backend":"localhost:2"}', status: 200 },
  { method: "PUT", path: "/entries/put.example.com.json", template: "/entries/{host}.json", body: '{"backend":"x"}', status: 400 },
  { method: "PUT", path: "/entries/put.example.com.json", template: "/entries/{host}.json", body: "{}", status: 401, auth: false },
  { method: "PUT", path: "/entries/put.example.com.json", template: "/entries/{host}.json", body: big, status: 413 },
  {
    method: "PUT",
    path: "/entries/put.example.com.json",
    template: "/entries/{host}.json",
    body: "{}",
    headers: { "Content-Type": "text/html" },
    status: 415,
  },
  { method: "DELETE", path: "/entries/put.example.com.json", template: "/entries/{host}.json", status: 204 },
  { method: "DELETE", path: "/entries/put.example.com.json", template: "/entries/{host}.json", status: 404 },
  { method: "DELETE", path: "/entries/a%20b.json", template: "/entries/{host}.json", status: 400 },
  { method: "DELETE", path: "/entries/a.example.com.json", template: "/entries/{host}.json", status: 401, auth: false },
  { method: "GET", path: "/entries/export", template: "/entries/export", status: 200 },
  { method: "GET", path: "/entries/export?limit=1", template: "/entries/export", status: 400 },
  { method: "GET", path: "/entries/export", template: "/entries/export", status: 401, auth: false },
  {
    method: "POST",
    path: "/entries/import",
    template: "/entries/import",
    body: '{"host":"i.example.com","backend":"localhost:1"}',
    headers: ndjson,
    status: 200,
  },
  { method: "POST", path: "/entries/import", template: "/entries/import", body: "nope", headers: ndjson, status: 400 },
  { method: "POST", path: "/entries/import", template: "/entries/import", body: "", headers: ndjson, status: 401, auth: false },
  { method: "POST", path: "/entries/import", template: "/entries/import", body: "x".repeat(2000), headers: ndjson, status: 413 },
  { method: "POST", path: "/entries/import", template: "/entries/import", body: "", headers: { "Content-Type": "text/csv" }, status: 415 },
];

type Operation = { responses: Record<string, { content?: Record<string, { schema: object }> }> };
const operation = (template: string, method: string) =>
  (openapi.paths as unknown as Record<string, Record<string, Operation>>)[template]?.[method.toLowerCase()];

function validatorFor(ajv: Ajv2020, schema: object) {
  return ajv.compile({ $defs: {}, components: openapi.components, ...schema });
}

test("every documented answer is what the service really does", async (t) => {
  const s = await startTestService(t, { IMPORT_LIMIT_BYTES: "1000", EDGE_METRICS_URL: edgeUrl });
  await post(s, "a.example.com", "localhost:3000");
  const ajv = new Ajv2020({ strict: false });
  const seen = new Set<string>();
  for (const call of calls) {
    const label = `${call.method} ${call.path} → ${call.status}`;
    const op = operation(call.template, call.method);
    if (!op) {
      t.fail(`${label}: ${call.template} ${call.method} is not documented`);
      continue;
    }
    await call.before?.();
    const reply: Reply = await s.api(call.path, { method: call.method, body: call.body, headers: call.headers, auth: call.auth });
    t.is(reply.status, call.status, label);
    const documented = op.responses[String(reply.status)];
    if (!documented) {
      t.fail(`${label}: status ${reply.status} is not documented`);
      continue;
    }
    seen.add(`${call.template} ${call.method.toLowerCase()} ${reply.status}`);
    const [type, media] = Object.entries(documented.content ?? {})[0] ?? [];
    if (!type || !media) {
      t.is(reply.text, "", `${label}: undocumented body`);
      continue;
    }
    t.true(String(reply.headers["content-type"]).startsWith(type), `${label}: content type ${reply.headers["content-type"]}`);
    if (type === "application/json") {
      const validate = validatorFor(ajv, media.schema);
      t.true(validate(reply.json()), `${label}: ${ajv.errorsText(validate.errors)}`);
    }
  }
  // Every documented (path, method, status) was produced by a call above.
  for (const [template, item] of Object.entries(openapi.paths)) {
    for (const [method, op] of Object.entries(item as Record<string, Operation>)) {
      if (method === "parameters") continue;
      for (const [status, response] of Object.entries(op.responses)) {
        // etcd-only answers are produced and checked by the fleet tests (tests/fleet/contract.ts).
        if ((response as Record<string, unknown>)["x-route-store"] === "etcd") continue;
        t.true(seen.has(`${template} ${method} ${status}`), `no call produced ${method.toUpperCase()} ${template} ${status}`);
      }
    }
  }
});

test("every route of the public listener is documented", (t) => {
  const { publicRoutes } = servedRoutes(t);
  t.true(publicRoutes.length > 0);
  for (const [method, path] of publicRoutes) {
    const template = path.replace(/:(\w+)/g, "{$1}");
    t.truthy(operation(template, method), `${method} ${path} is served but not in openapi.json`);
  }
});

test("/openapi.json serves the document as OpenAPI 3.1", async (t) => {
  const s = await startTestService(t);
  const doc = (await s.api("/openapi.json", { auth: false })).json();
  t.is(doc.openapi, "3.1.0");
  t.deepEqual(doc, JSON.parse(JSON.stringify(openapi)));
});
