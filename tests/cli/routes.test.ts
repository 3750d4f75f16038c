// set-backend routes add|get|rm|ls against a real API: human and --json output,
// exit codes, and every error in one line on stderr.
import { createServer } from "node:http";
import test from "ava";
import { entriesOf, linesOf, routeLines, runCli, seed, startApi } from "./harness.ts";

test("add creates then replaces, get shows it, rm deletes it, then get and rm say not found (2)", async (t) => {
  const api = await startApi(t);
  const created = await api.cli(["routes", "add", "App.Example.com", "localhost:3000"]);
  t.is(created.code, 0, created.stderr);
  t.is(created.stdout, "created app.example.com → localhost:3000\n");
  t.is((await api.cli(["routes", "add", "app.example.com", "[::1]:3001"])).stdout, "replaced app.example.com → [::1]:3001\n");
  t.is((await api.cli(["routes", "get", "app.example.com"])).stdout, "app.example.com → [::1]:3001\n");
  const removed = await api.cli(["routes", "rm", "app.example.com"]);
  t.is(removed.code, 0);
  t.is(removed.stdout, "deleted app.example.com\n");
  for (const args of [["routes", "get", "app.example.com"], ["routes", "rm", "app.example.com"]]) {
    const missing = await api.cli(args);
    t.is(missing.code, 2, args.join(" "));
    t.is(missing.stdout, "");
    t.is(missing.stderr, "set-backend: no route for app.example.com\n");
  }
});

test("wildcard and catch-all hosts travel through the URL path", async (t) => {
  const api = await startApi(t);
  t.is((await api.cli(["routes", "add", "*.preview.example.com", "unix:/run/p.sock"])).code, 0);
  t.is((await api.cli(["routes", "add", "*", "localhost:9"])).code, 0);
  t.is((await api.cli(["routes", "get", "*.preview.example.com"])).stdout, "*.preview.example.com → unix:/run/p.sock\n");
  t.is((await api.cli(["routes", "rm", "*"])).code, 0);
  t.is((await api.cli(["routes", "get", "*"])).code, 2);
});

test("ls pages through every route in order (2,500 over three pages), with --prefix and --limit", async (t) => {
  const api = await startApi(t);
  await seed(api, routeLines(2500));
  const all = await api.cli(["routes", "ls"]);
  t.is(all.code, 0);
  const hosts = linesOf(all.stdout).map((line) => line.split(/ +/)[0]);
  t.is(hosts.length, 2500);
  t.deepEqual(hosts, [...hosts].sort());
  t.is(new Set(hosts).size, 2500);
  const some = linesOf((await api.cli(["routes", "ls", "--prefix", "h24", "--limit", "5"])).stdout);
  t.deepEqual(
    some.map((line) => line.split(/ +/)[0]),
    ["h24.example.com", "h240.example.com", "h2400.example.com", "h2401.example.com", "h2402.example.com"],
  );
  const none = await api.cli(["routes", "ls", "--prefix", "nothing"]);
  t.is(none.code, 0);
  t.is(none.stdout, "");
  t.is(none.stderr, "no routes start with nothing\n");
});

test("--json: one JSON document per result, NDJSON for ls, errors as one JSON line on stderr", async (t) => {
  const api = await startApi(t);
  const add = await api.cli(["--json", "routes", "add", "j.example.com", "10.0.0.1:80"]);
  t.deepEqual(JSON.parse(add.stdout), { host: "j.example.com", backend: "10.0.0.1:80", created: true });
  t.deepEqual(JSON.parse((await api.cli(["routes", "get", "j.example.com", "--json"])).stdout), { host: "j.example.com", backend: "10.0.0.1:80" });
  await api.cli(["routes", "add", "k.example.com", "10.0.0.2:80"]);
  const ls = await api.cli(["routes", "ls", "--json"]);
  t.deepEqual(linesOf(ls.stdout).map((line) => JSON.parse(line)), [
    { host: "j.example.com", backend: "10.0.0.1:80" },
    { host: "k.example.com", backend: "10.0.0.2:80" },
  ]);
  const status = JSON.parse((await api.cli(["status", "--json"])).stdout);
  t.like(status, { api: { status: "ok", entries: 2, token: "accepted" } });
  t.true(status.api.seq >= 2);
  const bad = await api.cli(["--json", "routes", "add", "x y", "localhost:1"]);
  t.is(bad.code, 4);
  t.is(bad.stdout, "");
  t.like(JSON.parse(bad.stderr), { error: "invalid_host", exit: 4 });
  t.deepEqual(JSON.parse((await api.cli(["--json", "routes", "rm", "j.example.com"])).stdout), { host: "j.example.com", deleted: true });
});

test("exit codes: 1 usage, 3 auth, 4 validation (a <script> backend changes nothing), 5 unreachable, 6 not the API", async (t) => {
  const api = await startApi(t);
  const oneLine = (text: string) => t.is(linesOf(text).length, 1, text);

  for (const args of [["routes", "frob"], ["routes", "add", "only-host.example.com"], ["routes", "ls", "--limit", "0"], ["--url", "ftp://x", "status"]]) {
    const usage = await api.cli(args);
    t.is(usage.code, 1, `${args.join(" ")}: ${usage.stderr}`);
    oneLine(usage.stderr);
  }

  const wrong = await api.cli(["routes", "ls"], { env: { SET_BACKEND_TOKEN: "not-the-token-0123456789" } });
  t.is(wrong.code, 3);
  t.is(wrong.stderr, "set-backend: the bearer token is not valid (token from SET_BACKEND_TOKEN)\n");
  const none = await runCli(["routes", "ls"], { env: { SET_BACKEND_URL: api.url } });
  t.is(none.code, 3);
  t.regex(none.stderr, /^set-backend: no API token: pass --token, set SET_BACKEND_TOKEN, or run where .*api-token exists/);

  const script = await api.cli(["routes", "add", "x.example.com", "<script>alert(1)</script>:80"]);
  t.is(script.code, 4);
  oneLine(script.stderr);
  t.regex(script.stderr, /^set-backend: backend /);
  t.is((await api.cli(["routes", "add", "<b>.example.com", "localhost:1"])).code, 4);
  t.is(await entriesOf(api), 0, "nothing was stored");

  // A port that was just closed: nothing listens there.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const { port } = closed.address() as { port: number };
  await new Promise((resolve) => closed.close(resolve));
  const down = await api.cli(["routes", "ls", "--url", `http://127.0.0.1:${port}`]);
  t.is(down.code, 5);
  t.is(down.stderr, `set-backend: cannot reach the route API at http://127.0.0.1:${port}: connection refused\n`);

  // Something else on the port, as nginx's routed server is without the api.$DOMAIN Host header.
  const other = createServer((_req, res) => res.writeHead(404, { "Content-Type": "text/html" }).end("<h1>unknown host</h1>"));
  await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
  t.teardown(() => other.close());
  const notApi = await api.cli(["routes", "get", "a.example.com", "--url", `http://127.0.0.1:${(other.address() as { port: number }).port}`]);
  t.is(notApi.code, 6);
  oneLine(notApi.stderr);
  t.regex(notApi.stderr, /answered 404 with text\/html, not the route API's JSON; through nginx, use --url http:\/\/api\.localhost:8080/);
});
