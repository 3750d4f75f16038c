// GET /entries/export: the import's NDJSON format, sorted, and an export imported elsewhere gives back the same table.
import test from "ava";
import { post, startTestService, type TestService } from "./helpers.ts";

const ndjson = { "Content-Type": "application/x-ndjson" };
const listAll = async (s: TestService) => (await s.api("/entries.json")).json();

function lines(count: number, backend = (i: number) => `10.0.${i % 250}.1:${1000 + (i % 50_000)}`): string {
  let body = "";
  for (let i = 0; i < count; i++) body += JSON.stringify({ host: `h${i}.example.com`, backend: backend(i) }) + "\n";
  return body;
}

test("export streams one {host, backend} line per route, sorted, as NDJSON", async (t) => {
  const s = await startTestService(t);
  await post(s, "b.example.com", "localhost:2");
  await post(s, "*.a.example.com", "unix:/run/a.sock");
  await post(s, "*", "[::1]:3000");
  const reply = await s.api("/entries/export");
  t.is(reply.status, 200);
  t.is(reply.headers["content-type"], "application/x-ndjson");
  t.is(
    reply.text,
    ['{"host":"*","backend":"[::1]:3000"}', '{"host":"*.a.example.com","backend":"unix:/run/a.sock"}', '{"host":"b.example.com","backend":"localhost:2"}', ""].join("\n"),
  );
});

test("export of an empty table is an empty body; ?prefix= narrows it; unknown parameters are refused", async (t) => {
  const s = await startTestService(t);
  t.is((await s.api("/entries/export")).text, "");
  await post(s, "app.example.com", "localhost:1");
  await post(s, "web.example.com", "localhost:2");
  t.is((await s.api("/entries/export?prefix=web")).text, '{"host":"web.example.com","backend":"localhost:2"}\n');
  const bad = await s.api("/entries/export?limit=1");
  t.is(bad.status, 400);
  t.is(bad.json().error, "unknown_field");
  t.is((await s.api("/entries/export", { auth: false })).status, 401);
});

test("export → import into another service gives the identical table; re-import changes nothing", async (t) => {
  const source = await startTestService(t);
  const imported = await source.api("/entries/import", { method: "POST", body: lines(5000), headers: ndjson });
  t.is(imported.status, 200);
  await post(source, "*.bücher.de", "unix:/run/b.sock");
  const exported = (await source.api("/entries/export")).text;
  t.is(exported.split("\n").length, 5002);

  const target = await startTestService(t);
  const first = await target.api("/entries/import", { method: "POST", body: exported, headers: ndjson });
  t.deepEqual(first.json(), { imported: 5001, created: 5001, replaced: 0, unchanged: 0 });
  t.deepEqual(await listAll(target), await listAll(source));
  t.is((await target.api("/entries/export")).text, exported);
  const again = await source.api("/entries/import", { method: "POST", body: exported, headers: ndjson });
  t.deepEqual(again.json(), { imported: 5001, created: 0, replaced: 0, unchanged: 5001 });
});
