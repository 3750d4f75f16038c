// set-backend status, where the CLI finds the API and its token (make run's
// token file, api.localhost), and edge metrics from a Prometheus text URL.
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import { linesOf, runCli, startApi, tempDir } from "./harness.ts";

test("status: health, route count, change seq and whether the token is accepted", async (t) => {
  const api = await startApi(t);
  await api.cli(["routes", "add", "s.example.com", "localhost:1"]);
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

const EDGE_METRICS = `# HELP set_backend_requests_total Requests routed, by outcome
# TYPE set_backend_requests_total counter
set_backend_requests_total{outcome="hit",worker="0"} 60
set_backend_requests_total{outcome="hit",worker="1"} 30
set_backend_requests_total{outcome="miss",worker="0"} 10
# TYPE set_backend_lookup_seconds histogram
set_backend_lookup_seconds_bucket{le="0.001"} 5
set_backend_lookup_seconds_count 10
set_backend_lookup_seconds_sum 0.02
nginx_unrelated_total 4
`;

test("status --edge sums the edge's set_backend_ metrics and derives the hit rate; an unreachable edge is exit 5", async (t) => {
  const api = await startApi(t);
  let authorization: string | undefined;
  const edge = createServer((req, res) => {
    authorization = req.headers.authorization;
    res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4" }).end(EDGE_METRICS);
  });
  await new Promise<void>((resolve) => edge.listen(0, "127.0.0.1", resolve));
  const edgeUrl = `http://127.0.0.1:${(edge.address() as { port: number }).port}/metrics`;
  const run = await api.cli(["status", "--edge", edgeUrl]);
  t.is(run.code, 0, run.stderr);
  t.deepEqual(linesOf(run.stdout).slice(1), [
    `edge ${edgeUrl}: 3 set_backend_ metric families`,
    "  hit rate 90.0%",
    "  set_backend_lookup_seconds_count 10",
    "  set_backend_lookup_seconds_sum 0.02",
    "  set_backend_requests_total 100  (outcome=hit 90, outcome=miss 10)",
  ]);
  t.is(authorization, `Bearer ${api.service.token}`, "a loopback edge gets the token");
  const json = JSON.parse((await api.cli(["status", "--edge", edgeUrl, "--json"])).stdout);
  t.is(json.edge.hitRate, 0.9);
  t.deepEqual(json.edge.families.set_backend_requests_total, { total: 100, by: { "outcome=hit": 90, "outcome=miss": 10 } });

  await new Promise((resolve) => edge.close(resolve));
  const down = await api.cli(["status", "--edge", edgeUrl]);
  t.is(down.code, 5);
  t.regex(down.stdout, /^route API .*: ok, 0 routes/, "the API's line is still printed");
  t.is(down.stderr, `set-backend: cannot reach the edge metrics at ${edgeUrl}: connection refused\n`);
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
