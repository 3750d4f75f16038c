// set-backend routes import|export against a real API: a 100,000-line import
// with its progress output, an export → import round trip that leaves the table
// identical, and a refused import that changes nothing.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { entriesOf, linesOf, routeLines, seed, startApi, tempDir } from "./harness.ts";

test("a 100,000-line import shows its upload progress and the server's phase, then what it did", async (t) => {
  const api = await startApi(t);
  const file = join(tempDir(t, "cli-import"), "routes.ndjson");
  writeFileSync(file, routeLines(100_000));
  const run = await api.cli(["routes", "import", file, "--progress"]);
  t.is(run.code, 0, run.stderr);
  t.is(run.stdout, `imported 100000 routes from ${file}: 100000 created, 0 replaced, 0 unchanged\n`);
  // Off a terminal the bar prints plain lines: its start, and 100% once the body is sent.
  const progress = linesOf(run.stderr);
  t.regex(progress[0]!, /^uploading \[-+\] 0% \| 0\.0\/\d+\.\d MiB \| 0 lines$/);
  t.true(
    progress.some((line) => /^uploading \[=+\] 100% \| (\d+\.\d)\/\1 MiB \| 100000 lines$/.test(line)),
    run.stderr,
  );
  t.regex(progress.at(-1)!, /^uploaded \d+\.\d MiB, 100000 lines; the API is checking every line, then commits them in one transaction…$/);
  t.is(await entriesOf(api), 100_000);

  const again = await api.cli(["--json", "routes", "import", file, "--progress"]);
  t.is(again.code, 0);
  t.deepEqual(JSON.parse(again.stdout), { imported: 100_000, created: 0, replaced: 0, unchanged: 100_000 });
  t.is(again.stderr, "", "--json prints no progress");
});

test("export → import into another API → export gives the same bytes; import - reads stdin", async (t) => {
  const source = await startApi(t);
  const odd = [
    { host: "*", backend: "[::1]:3000" },
    { host: "*.bücher.de", backend: "unix:/run/b.sock" },
    { host: "xn--caf-dma.example", backend: "cafe.internal:8080" },
  ];
  const body = routeLines(3000) + odd.map((e) => JSON.stringify(e)).join("\n") + "\n";
  t.is((await source.cli(["routes", "import", "-"], { input: body })).code, 0);
  const dir = tempDir(t, "cli-export");
  const file = join(dir, "export.ndjson");
  const exported = await source.cli(["routes", "export", "-o", file]);
  t.is(exported.code, 0, exported.stderr);
  t.is(exported.stdout, `exported 3003 routes to ${file}\n`);
  const first = readFileSync(file, "utf8");
  t.is((await source.cli(["routes", "export"])).stdout, first, "stdout and -o write the same");
  t.true(first.includes('{"host":"*.xn--bcher-kva.de","backend":"unix:/run/b.sock"}\n'));

  const target = await startApi(t);
  const imported = await target.cli(["--json", "routes", "import", "-"], { input: first });
  t.deepEqual(JSON.parse(imported.stdout), { imported: 3003, created: 3003, replaced: 0, unchanged: 0 });
  t.is((await target.cli(["routes", "export"])).stdout, first);
  const prefixed = await source.cli(["routes", "export", "--prefix", "h299"]);
  t.is(linesOf(prefixed.stdout).length, 11);
});

test("an import with bad lines is refused whole (4), names the lines, and changes nothing", async (t) => {
  const api = await startApi(t);
  await seed(api, '{"host":"keep.example.com","backend":"localhost:1"}\n');
  const input = [
    '{"host":"fine.example.com","backend":"localhost:2"}',
    '{"host":"evil.example.com","backend":"<script>alert(1)</script>"}',
    "not json",
    '{"host":"keep.example.com","backend":"localhost:3"}',
  ].join("\n");
  const run = await api.cli(["routes", "import", "-", "--no-progress"], { input });
  t.is(run.code, 4);
  t.is(run.stdout, "");
  const lines = linesOf(run.stderr);
  t.is(lines[0], "set-backend: 2 of the lines are invalid; nothing was imported");
  t.regex(lines[1]!, /^ {2}line 2: backend /);
  t.regex(lines[2]!, /^ {2}line 3: the body is not valid JSON/);
  t.is((await api.http("GET", "/entries/export")).body, '{"host":"keep.example.com","backend":"localhost:1"}\n');

  const missing = await api.cli(["routes", "import", join(tempDir(t, "cli-none"), "absent.ndjson")]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /^set-backend: cannot read .*absent\.ndjson: no such file or directory/);
});

test("an import over the API's size limit is refused (4) with the limit named, at once", async (t) => {
  const api = await startApi(t, { env: { IMPORT_LIMIT_BYTES: "100000" } });
  // Larger than the socket buffers: the API answers 413 while the file is still being sent.
  const file = join(tempDir(t, "cli-big"), "big.ndjson");
  writeFileSync(file, routeLines(50_000));
  const started = Date.now();
  const run = await api.cli(["routes", "import", file]);
  t.is(run.code, 4, run.stderr);
  t.is(linesOf(run.stderr).length, 1);
  t.regex(run.stderr, /IMPORT_LIMIT_BYTES/);
  // A CLI that kept its half-sent request open waited for the API's 66 s header timeout.
  t.true(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
  t.is((await api.cli(["routes", "import", "-"], { input: routeLines(5000) })).code, 4, "from stdin too");
  t.is(await entriesOf(api), 0);
});
