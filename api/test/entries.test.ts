import test from "ava";
import { post, startTestService, TOKEN, type TestService } from "./helpers.ts";

const list = async (s: TestService, query = "") => (await s.api(`/entries.json${query}`)).json();

test("POST creates (201) then replaces (200), returning the stored entry", async (t) => {
  const s = await startTestService(t);
  const created = await post(s, "Some.Host.com", "localhost:3000");
  t.is(created.status, 201);
  t.deepEqual(created.json(), { host: "some.host.com", backend: "localhost:3000" });
  t.is(created.headers.location, "/entries/some.host.com.json");
  const replaced = await post(s, "some.host.com", "10.0.0.7:8080");
  t.is(replaced.status, 200);
  t.deepEqual(replaced.json(), { host: "some.host.com", backend: "10.0.0.7:8080" });
  t.deepEqual(await list(s), [{ host: "some.host.com", backend: "10.0.0.7:8080" }]);
});

test("the seed's curl -d body (form content type) is read as JSON", async (t) => {
  const s = await startTestService(t);
  const reply = await s.api("/entries.json", {
    method: "POST",
    body: '{ "host": "some.host.com", "backend": "localhost:3000" }',
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
  t.is(reply.status, 201);
});

test("GET one entry, 404 when absent; IDN and wildcard hosts by URL-encoded path", async (t) => {
  const s = await startTestService(t);
  await post(s, "*.bücher.de", "localhost:3000");
  const wildcard = await s.api(`/entries/${encodeURIComponent("*.bücher.de")}.json`);
  t.is(wildcard.status, 200);
  t.deepEqual(wildcard.json(), { host: "*.xn--bcher-kva.de", backend: "localhost:3000" });
  t.is((await s.api("/entries/%2A.xn--bcher-kva.de.json")).status, 200);
  const missing = await s.api("/entries/nope.example.com.json");
  t.is(missing.status, 404);
  t.is(missing.json().error, "not_found");
});

test("PUT upserts: 201 then 200; refuses a host field in the body", async (t) => {
  const s = await startTestService(t);
  const first = await s.api("/entries/app.example.com.json", { method: "PUT", body: '{"backend":"[::1]:3000"}' });
  t.is(first.status, 201);
  t.deepEqual(first.json(), { host: "app.example.com", backend: "[::1]:3000" });
  const second = await s.api("/entries/app.example.com.json", { method: "PUT", body: '{"backend":"unix:/run/app.sock"}' });
  t.is(second.status, 200);
  const extra = await s.api("/entries/app.example.com.json", { method: "PUT", body: '{"backend":"a:1","host":"x.com"}' });
  t.is(extra.status, 400);
  t.is(extra.json().error, "unknown_field");
  t.deepEqual(await list(s), [{ host: "app.example.com", backend: "unix:/run/app.sock" }]);
});

test("DELETE answers 204, then 404", async (t) => {
  const s = await startTestService(t);
  await post(s, "gone.example.com", "localhost:3000");
  const first = await s.api("/entries/gone.example.com.json", { method: "DELETE" });
  t.is(first.status, 204);
  t.is(first.text, "");
  const second = await s.api("/entries/gone.example.com.json", { method: "DELETE" });
  t.is(second.status, 404);
  t.deepEqual(await list(s), []);
});

test("the index is sorted by host and takes prefix, limit and the after cursor", async (t) => {
  const s = await startTestService(t);
  const hosts = ["c.example.com", "a.example.com", "b.example.org", "*", "*.example.com", "b.example.com"];
  for (const host of hosts) await post(s, host, "localhost:3000");
  t.deepEqual(
    (await list(s)).map((e: { host: string }) => e.host),
    ["*", "*.example.com", "a.example.com", "b.example.com", "b.example.org", "c.example.com"],
  );
  t.deepEqual(
    (await list(s, "?prefix=b.")).map((e: { host: string }) => e.host),
    ["b.example.com", "b.example.org"],
  );
  const page1 = await s.api("/entries.json?limit=2");
  t.deepEqual(page1.json().map((e: { host: string }) => e.host), ["*", "*.example.com"]);
  const next = /<([^>]+)>; rel="next"/.exec(String(page1.headers.link))![1]!;
  const page2 = await s.api(next);
  t.deepEqual(page2.json().map((e: { host: string }) => e.host), ["a.example.com", "b.example.com"]);
  const page3 = await s.api("/entries.json?limit=10&after=b.example.com&prefix=b");
  t.deepEqual(page3.json().map((e: { host: string }) => e.host), ["b.example.org"]);
  t.is(page3.headers.link, undefined);
  t.deepEqual(await list(s, "?prefix=zzz"), []);
});

test("the unbounded index streams many entries as one valid JSON array", async (t) => {
  const s = await startTestService(t);
  const lines = Array.from({ length: 5000 }, (_, i) => JSON.stringify({ host: `h${String(i).padStart(5, "0")}.example.com`, backend: "localhost:3000" }));
  const imported = await s.api("/entries/import", { method: "POST", body: lines.join("\n"), headers: { "Content-Type": "application/x-ndjson" } });
  t.is(imported.status, 200);
  const reply = await s.api("/entries.json");
  t.is(reply.headers["transfer-encoding"], "chunked");
  const entries = reply.json();
  t.is(entries.length, 5000);
  t.is(entries[4999].host, "h04999.example.com");
});

test("bad query parameters are refused", async (t) => {
  const s = await startTestService(t);
  for (const query of ["?limit=0", "?limit=abc", "?limit=100001", "?limit=1.5", "?bogus=1", "?limit=1&limit=2"]) {
    const reply = await s.api(`/entries.json${query}`);
    t.is(reply.status, 400, query);
    t.truthy(reply.json().message, query);
  }
});

// Each invalid write is refused with a 4xx, the stated error code, and changes nothing.
const invalidWrites: [string, { body: string; type?: string }, number, string][] = [
  ["malformed JSON", { body: '{"host": "a.com", ' }, 400, "invalid_json"],
  ["a JSON array", { body: '[{"host":"a.com","backend":"b:1"}]' }, 400, "invalid_body"],
  ["a JSON string", { body: '"a.com"' }, 400, "invalid_body"],
  ["an unknown field", { body: '{"host":"a.com","backend":"b:1","ttl":5}' }, 400, "unknown_field"],
  ["a missing backend", { body: '{"host":"a.com"}' }, 400, "missing_field"],
  ["a missing host", { body: '{"backend":"b:1"}' }, 400, "missing_field"],
  ["a numeric backend", { body: '{"host":"a.com","backend":3000}' }, 400, "invalid_body"],
  ["an invalid host", { body: '{"host":"a b.com","backend":"b:1"}' }, 400, "invalid_host"],
  ["a host with a port", { body: '{"host":"a.com:80","backend":"b:1"}' }, 400, "invalid_host"],
  ["a backend with a scheme", { body: '{"host":"a.com","backend":"http://b:1"}' }, 400, "invalid_backend"],
  ["a backend with a path", { body: '{"host":"a.com","backend":"b:1/x"}' }, 400, "invalid_backend"],
  ["a backend with userinfo", { body: '{"host":"a.com","backend":"u@b:1"}' }, 400, "invalid_backend"],
  ["a backend with a newline", { body: '{"host":"a.com","backend":"b:1\\nx"}' }, 400, "invalid_backend"],
  ["an empty backend", { body: '{"host":"a.com","backend":""}' }, 400, "invalid_backend"],
  ["text/plain", { body: '{"host":"a.com","backend":"b:1"}', type: "text/plain" }, 415, "unsupported_media_type"],
  ["a body over 64 KiB", { body: JSON.stringify({ host: "a.com", backend: "b:1", pad: "x".repeat(70_000) }) }, 413, "body_too_large"],
];

for (const [why, { body, type }, status, code] of invalidWrites) {
  test(`POST with ${why} is refused (${status} ${code}) and writes nothing`, async (t) => {
    const s = await startTestService(t);
    const reply = await s.api("/entries.json", { method: "POST", body, headers: type ? { "Content-Type": type } : {} });
    t.is(reply.status, status);
    t.is(reply.json().error, code);
    t.is(typeof reply.json().message, "string");
    t.deepEqual(await list(s), []);
    t.is(s.service.store.seq, 0);
  });
}

test("every /entries call needs the bearer token; a wrong one is refused the same way", async (t) => {
  const s = await startTestService(t);
  await post(s, "a.example.com", "localhost:3000");
  const calls: [string, string, string?][] = [
    ["GET", "/entries.json"],
    ["POST", "/entries.json", '{"host":"b.example.com","backend":"localhost:1"}'],
    ["GET", "/entries/a.example.com.json"],
    ["PUT", "/entries/a.example.com.json", '{"backend":"localhost:2"}'],
    ["DELETE", "/entries/a.example.com.json"],
    ["POST", "/entries/import", '{"host":"c.example.com","backend":"localhost:1"}'],
    ["GET", "/metrics"],
  ];
  for (const [method, path, body] of calls) {
    for (const authorization of [undefined, "Bearer wrong-token-0123456789", `Basic ${TOKEN}`, `Bearer ${TOKEN}x`, "Bearer"]) {
      const headers: Record<string, string> = authorization ? { Authorization: authorization } : {};
      const reply = await s.api(path, { method, body, headers, auth: false });
      t.is(reply.status, 401, `${method} ${path} ${authorization}`);
      t.is(reply.json().error, "unauthorized");
      t.regex(String(reply.headers["www-authenticate"]), /^Bearer/);
    }
  }
  t.deepEqual(await list(s), [{ host: "a.example.com", backend: "localhost:3000" }]);
});

test("unknown paths are 404 and wrong methods 405, in the error format", async (t) => {
  const s = await startTestService(t);
  const missing = await s.api("/nope");
  t.is(missing.status, 404);
  t.is(missing.json().error, "not_found");
  const wrong = await s.api("/entries.json", { method: "PATCH", body: "{}" });
  t.is(wrong.status, 405);
  t.is(wrong.json().error, "method_not_allowed");
  t.truthy(wrong.headers.allow);
});

test("routes survive a restart", async (t) => {
  const s = await startTestService(t);
  await post(s, "kept.example.com", "localhost:3000");
  await post(s, "*.example.org", "10.1.2.3:80");
  await s.api("/entries/kept.example.com.json", { method: "PUT", body: '{"backend":"localhost:4000"}' });
  await s.restart();
  t.deepEqual(await list(s), [
    { host: "*.example.org", backend: "10.1.2.3:80" },
    { host: "kept.example.com", backend: "localhost:4000" },
  ]);
});
