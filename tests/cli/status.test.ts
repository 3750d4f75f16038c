// set-backend status, where the CLI finds the API and its token (make run's
// token file, api.localhost), and edge metrics from a Prometheus text URL.
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import { linesOf, routeLines, runCli, seed, startApi, tempDir } from "./harness.ts";

test("status: health, route count, change seq and whether the token is accepted", async (t) => {
  const api = await startApi(t);
  await seed(api, '{"host":"s.example.com","backend":"localhost:1"}\n');
  const run = await api.cli(["status"]);
  t.is(run.code, 0, run.stderr);
  t.is(run.stdout, `route API ${api.url}: ok, 1 routes, change seq 1, token accepted\n`);
  const anonymous = await runCli(["status"], { env: { SET_BACKEND_URL: api.url } });
  t.is(anonymous.code, 0, "health needs no token");
  t.regex(anonymous.stdout, /token none\n$/);
  const refused = await api.cli(["status", "--token", "wrong-token-0123456789"]);
  t.is(refused.code, 3);
  t.regex(refused.stdout, /token refused \(from --token\)\n$/);
});

test("the token comes from make run's file ($STATE_DIR/api-token, ./.run by default) and api.localhost reaches loopback", async (t) => {
  const api = await startApi(t, { token: null });
  const port = new URL(api.url).port;
  const stateDir = api.service.stateDir;
  // STATE_DIR given: its api-token file.
  const fromState = await runCli(["routes", "add", "f.example.com", "localhost:1"], { env: { SET_BACKEND_URL: api.url, STATE_DIR: stateDir } });
  t.is(fromState.code, 0, fromState.stderr);
  // No STATE_DIR: ./.run/api-token relative to the working directory (a clone after make run).
  const clone = tempDir(t, "cli-clone");
  mkdirSync(join(clone, ".run"));
  copyFileSync(join(stateDir, "api-token"), join(clone, ".run", "api-token"));
  const fromRun = await runCli(["routes", "get", "f.example.com", "--url", api.url], { cwd: clone, env: { STATE_DIR: "" } });
  t.is(fromRun.code, 0, fromRun.stderr);
  const fromFile = await runCli(["routes", "get", "f.example.com", "--url", api.url, "--token-file", join(stateDir, "api-token")]);
  t.is(fromFile.code, 0, fromFile.stderr);
  // api.localhost is loopback (RFC 6761) even where the system resolver does not know it; the name goes in Host.
  const named = await runCli(["status", "--url", `http://api.localhost:${port}`], { env: { STATE_DIR: stateDir } });
  t.is(named.code, 0, named.stderr);
  t.regex(named.stdout, /^route API http:\/\/api\.localhost:\d+: ok, 1 routes, change seq 1, token accepted\n$/);
});

test("--host-header sets the Host the API (or nginx in front of it) sees", async (t) => {
  let seen: IncomingHttpHeaders | undefined;
  const server = createServer((req, res) => {
    seen = req.headers;
    res.writeHead(200, { "Content-Type": "application/json" }).end('{"status":"ok","entries":7,"seq":9}');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const run = await runCli(["status", "--url", url, "--host-header", "api.example.com"]);
  t.is(run.code, 0, run.stderr);
  t.is(seen?.host, "api.example.com");
  t.is(run.stdout, `route API ${url}: ok, 7 routes, change seq 9, token none\n`);
});

// What nginx's set_backend_metrics serves (docs/metrics.md), with known values.
const EDGE_METRICS = `# HELP set_backend_requests_total Requests by how routing ended
# TYPE set_backend_requests_total counter
set_backend_requests_total{waited="false",result="backend"} 27
set_backend_requests_total{waited="true",result="backend"} 3
set_backend_requests_total{waited="true",result="page",status="404"} 1
set_backend_requests_total{waited="false",result="page",status="404"} 1
set_backend_requests_total{waited="false",result="error"} 0
set_backend_http_calls_total{result="2xx"} 5
set_backend_http_calls_total{result="4xx"} 1
set_backend_http_calls_total{result="failed"} 0
set_backend_filter_traps_total{kind="fault"} 0
set_backend_filter_traps_total{kind="deadline"} 1
set_backend_filter_restarts_total 0
set_backend_zone_bytes{state="total"} 8388608
set_backend_zone_bytes{state="used"} 1048576
set_backend_zone_entries 4
set_backend_zone_evictions_total 0
set_backend_workers_reporting 2
# TYPE set_backend_filter_lookup_duration_ms histogram
set_backend_filter_lookup_duration_ms_bucket{le="1"} 2
set_backend_filter_lookup_duration_ms_bucket{le="+Inf"} 4
set_backend_filter_lookup_duration_ms_sum 6
set_backend_filter_lookup_duration_ms_count 4
set_backend_filter_feed_seq 1
set_backend_filter_feed_lag_ms 120
set_backend_filter_feed_resets_total 0
set_backend_filter_stale_served_total 2
`;

test("status --edge reads nginx's metrics through the API (or from a URL): hit rate, lookups, feed lag against the API's seq, zone, faults; no edge is exit 5", async (t) => {
  let authorization: string | undefined;
  const edge = createServer((req, res) => {
    authorization = req.headers.authorization;
    res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4" }).end(EDGE_METRICS);
  });
  await new Promise<void>((resolve) => edge.listen(0, "127.0.0.1", resolve));
  const edgeUrl = `http://127.0.0.1:${(edge.address() as { port: number }).port}/metrics`;
  const api = await startApi(t, { env: { EDGE_METRICS_URL: edgeUrl } });
  await seed(api, routeLines(3));
  const figures = [
    "  requests 32: 87.5% from the cache, 4 waited for a lookup, pages (404 2), 0 errors",
    "  calls to the route API: 2xx 5, 4xx 1, failed 0; lookups take 1.5 ms on average",
    "  change feed: at seq 1 (2 behind the API), lag 120 ms, 0 resets",
    "  cache zone: 1.0 MiB of 8.0 MiB used, 4 entries, 0 evictions",
    "  filter: 0 faults, 1 deadline stops, 0 restarts, 2 stale served",
  ];
  const viaApi = await api.cli(["status", "--edge"]);
  t.is(viaApi.code, 0, viaApi.stderr);
  t.deepEqual(linesOf(viaApi.stdout), [
    `route API ${api.url}: ok, 3 routes, change seq 3, token accepted`,
    `edge ${api.url}/edge/metrics: 2 workers reporting`,
    ...figures,
  ]);
  const direct = await api.cli(["status", "--edge", edgeUrl]);
  t.is(direct.code, 0, direct.stderr);
  t.deepEqual(linesOf(direct.stdout).slice(1), [`edge ${edgeUrl}: 2 workers reporting`, ...figures]);
  t.is(authorization, `Bearer ${api.service.token}`, "a loopback edge URL gets the token");
  // SET_BACKEND_EDGE_URL makes every status show the edge.
  const json = JSON.parse((await api.cli(["status", "--json"], { env: { SET_BACKEND_EDGE_URL: edgeUrl } })).stdout);
  t.like(json.edge, { url: edgeUrl, workers: 2, requests: { total: 32, hits: 28, hitRate: 0.875 }, feed: { seq: 1, behind: 2, lagMs: 120 } });

  await new Promise((resolve) => edge.close(resolve));
  const down = await api.cli(["status", "--edge", edgeUrl]);
  t.is(down.code, 5);
  t.regex(down.stdout, /^route API .*: ok, 3 routes/, "the API's line is still printed");
  t.is(down.stderr, `set-backend: cannot reach the edge metrics at ${edgeUrl}: connection refused\n`);
  const behind = await api.cli(["status", "--edge"]);
  t.is(behind.code, 5);
  t.regex(behind.stderr, /^set-backend: the edge's metrics at .* cannot be read: .*\n$/);
});

test("status --edge on an API without an edge says so (5)", async (t) => {
  const api = await startApi(t);
  const run = await api.cli(["status", "--edge"]);
  t.is(run.code, 5);
  t.is(run.stderr, "set-backend: no edge is configured (EDGE_METRICS_URL)\n");
});

test("npx set-backend in the clone runs this repository's bin (package.json \"bin\"), offline", async (t) => {
  const repo = fileURLToPath(new URL("../../", import.meta.url));
  const run = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
    // As from a shell: npm's own npx, not the old one a dev dependency puts in node_modules/.bin.
    const path = (process.env.PATH ?? "").split(":").filter((dir) => !dir.includes("node_modules")).join(":");
    execFile("npx", ["--offline", "set-backend", "--version"], { cwd: join(repo, "api"), env: { PATH: path, HOME: process.env.HOME ?? "/root" } }, (error, stdout) => {
      if (error && typeof error.code !== "number") return reject(error);
      resolve({ code: error ? (error.code as number) : 0, stdout });
    });
  });
  t.is(run.code, 0);
  t.is(run.stdout, `${JSON.parse(readFileSync(join(repo, "package.json"), "utf8")).version}\n`);
});
