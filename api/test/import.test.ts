import test from "ava";
import { bodyLines } from "../src/import.ts";
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

test("the line walker cuts a body's bytes into the lines decoding the whole body and splitting it gives", (t) => {
  const bytes = (...parts: (string | number[])[]) =>
    Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p))));
  const cases: [string, Buffer][] = [
    ["empty body", bytes()],
    ["only a newline", bytes("\n")],
    ["no newline at the end", bytes("a\nb")],
    ["a newline at the end", bytes("a\nb\n")],
    ["CRLF", bytes("a\r\nb\r\n")],
    ["empty and blank lines", bytes("\n\n  \n\t\r\na")],
    ["multi-byte characters next to newlines", bytes("é\n€\n😀\nü", "\n", "日本")],
    ["a byte-order mark at the start is dropped", bytes([0xef, 0xbb, 0xbf], "a\nb")],
    ["a byte-order mark later is kept", bytes("a\n", [0xef, 0xbb, 0xbf], "b")],
    ["only a byte-order mark", bytes([0xef, 0xbb, 0xbf])],
    ["invalid UTF-8 before a newline and at the end", bytes("a", [0xe2, 0x82], "\nb", [0x80], "\n", [0xf0, 0x9f])],
  ];
  for (const [name, body] of cases) {
    const view = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    t.deepEqual([...bodyLines(view)], new TextDecoder().decode(view).split("\n"), name);
  }
});

test("an import reads CRLF, blank lines, a last line without newline and non-ASCII hosts", async (t) => {
  const s = await startTestService(t);
  const reply = await s.api("/entries/import", {
    method: "POST",
    headers: { "Content-Type": "application/x-ndjson" },
    body:
      "\uFEFF" +
      '{"host":"crlf.example.com","backend":"localhost:1"}\r\n' +
      "\r\n  \n" +
      '{"host":"bücher.example","backend":"localhost:2"}\n' +
      '{"host":"crlf.example.com","backend":"localhost:3"}',
  });
  t.is(reply.status, 200);
  t.deepEqual(reply.json(), { imported: 2, created: 2, replaced: 0, unchanged: 0 });
  t.deepEqual(await hosts(s), ["crlf.example.com", "xn--bcher-kva.example"]);
  t.is((await s.api("/entries/crlf.example.com.json")).json().backend, "localhost:3");
});

test("bad lines are numbered counting blank lines, and a byte-order mark inside the body is invalid JSON", async (t) => {
  const s = await startTestService(t);
  const reply = await s.api("/entries/import", {
    method: "POST",
    headers: { "Content-Type": "application/x-ndjson" },
    body: '\r\n\n{"host":"a.example.com","backend":"localhost:1"}\r\n\uFEFF{"host":"b.example.com","backend":"localhost:1"}\n\n{"host":"ü ü","backend":"localhost:1"}',
  });
  t.is(reply.status, 400);
  t.deepEqual(
    reply.json().lines.map((l: { line: number; error: string }) => [l.line, l.error]),
    [
      [4, "invalid_json"],
      [6, "invalid_host"],
    ],
  );
  t.deepEqual(await hosts(s), []);
});
