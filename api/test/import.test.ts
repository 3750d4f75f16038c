import test from "ava";
import { startTestService, type TestService } from "./helpers.ts";

const ndjson = (lines: string[]) => ({ body: lines.join("\n"), headers: { "Content-Type": "application/x-ndjson" } });
const importLines = (s: TestService, lines: string[]) => s.api("/entries/import", { method: "POST", ...ndjson(lines) });
const hosts = async (s: TestService) => (await s.api("/entries.json")).json().map((e: { host: string }) => e.host);

test("an import applies every line and counts what it did", async (t) => {
  const s = await startTestService(t);
  await s.api("/entries.json", { method: "POST", body: '{"host":"old.example.com","backend":"localhost:1"}' });
  await s.api("/entries.json", { method: "POST", body: '{"host":"same.example.com","backend":"localhost:2"}' });
  const reply = await importLines(s, [
    '{"host":"a.example.com","backend":"localhost:3000"}',
    "",
    '{"host":"OLD.example.com","backend":"localhost:3001"}',
    '{"host":"same.example.com","backend":"localhost:2"}',
    '{"host":"*.example.net","backend":"unix:/run/x.sock"}',
    '{"host":"a.example.com","backend":"localhost:3002"}',
  ]);
  t.is(reply.status, 200);
  t.deepEqual(reply.json(), { imported: 4, created: 2, replaced: 1, unchanged: 1 });
  t.deepEqual(await hosts(s), ["*.example.net", "a.example.com", "old.example.com", "same.example.com"]);
  // A host given twice keeps its last backend.
  t.is((await s.api("/entries/a.example.com.json")).json().backend, "localhost:3002");
});

test("one bad line rejects the whole import and the answer lists every bad line", async (t) => {
  const s = await startTestService(t);
  await s.api("/entries.json", { method: "POST", body: '{"host":"kept.example.com","backend":"localhost:1"}' });
  const seq = s.service.store.seq;
  const reply = await importLines(s, [
    '{"host":"a.example.com","backend":"localhost:3000"}',
    '{"host":"kept.example.com","backend":"localhost:9"}',
    '{"host":"bad host","backend":"localhost:3000"}',
    "not json",
    '{"host":"b.example.com","backend":"http://x"}',
    '{"host":"c.example.com","backend":"localhost:1","extra":1}',
  ]);
  t.is(reply.status, 400);
  const body = reply.json();
  t.is(body.error, "invalid_import");
  t.regex(body.message, /4 of the lines are invalid; nothing was imported/);
  t.deepEqual(
    body.lines.map((l: { line: number; error: string }) => [l.line, l.error]),
    [
      [3, "invalid_host"],
      [4, "invalid_json"],
      [5, "invalid_backend"],
      [6, "unknown_field"],
    ],
  );
  t.deepEqual(await hosts(s), ["kept.example.com"]);
  t.is((await s.api("/entries/kept.example.com.json")).json().backend, "localhost:1");
  t.is(s.service.store.seq, seq);
});

test("the list of bad lines is capped, the count is not", async (t) => {
  const s = await startTestService(t);
  const reply = await importLines(s, Array.from({ length: 250 }, () => "{"));
  t.is(reply.status, 400);
  t.is(reply.json().lines.length, 100);
  t.regex(reply.json().message, /^250 of the lines/);
});

test("an import over the configured limit is refused with 413 and writes nothing", async (t) => {
  const s = await startTestService(t, { IMPORT_LIMIT_BYTES: "1000" });
  const lines = Array.from({ length: 40 }, (_, i) => JSON.stringify({ host: `h${i}.example.com`, backend: "localhost:3000" }));
  const reply = await importLines(s, lines);
  t.is(reply.status, 413);
  t.is(reply.json().error, "body_too_large");
  t.deepEqual(await hosts(s), []);
});

test("an import needs an NDJSON (or JSON) content type", async (t) => {
  const s = await startTestService(t);
  const reply = await s.api("/entries/import", {
    method: "POST",
    body: '{"host":"a.example.com","backend":"localhost:1"}',
    headers: { "Content-Type": "text/csv" },
  });
  t.is(reply.status, 415);
  t.deepEqual(await hosts(s), []);
});

test("an import larger than the retained log is announced as one reset", async (t) => {
  const s = await startTestService(t, { CHANGES_RETAIN: "10" });
  const before = s.service.store.seq;
  const lines = Array.from({ length: 50 }, (_, i) => JSON.stringify({ host: `h${i}.example.com`, backend: "localhost:3000" }));
  t.is((await importLines(s, lines)).status, 200);
  const page = (await s.internal(`/changes?since=${before}`)).json();
  t.true(page.reset);
  t.true(page.seq > before);
  t.deepEqual((await s.internal(`/changes?since=${page.seq}`)).json(), { seq: page.seq, changes: [] });
});
