// Edge metrics (`set_backend_metrics`): known traffic through Debian's nginx with two
// workers, the module and the resolver filter, against the real route API; the
// Prometheus text must count exactly that traffic, whichever worker served it.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import { authHeaders, request, startService, type ServiceProcess } from "../../api/test/fixtures/service-process.ts";
import { cleanup, config, freePort, get, until, nginxTest, request as nginxRequest, requireModule, startNginx, tempDir, type Nginx } from "./harness.ts";

const resolver = fileURLToPath(new URL("../../build/resolver.wasm", import.meta.url));
const TOKEN = "metrics-test-token-0123456789";

let dir = "";
let api: ServiceProcess;
let nginx: Nginx;
let port = 0;
let metricsPort = 0;
let backend: http.Server;

/** The value of one sample line of the metrics text (`name{labels}`), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function metrics(): Promise<string> {
  const reply = await get(metricsPort, "/metrics");
  if (reply.status !== 200) throw new Error(`metrics: ${reply.status}`);
  return reply.body;
}

test.before(async () => {
  requireModule();
  dir = tempDir();
  backend = http.createServer((_req, res) => res.end("ok"));
  await new Promise<void>((r) => backend.listen(0, "127.0.0.1", r));
  api = await startService({ stateDir: join(dir, "state"), token: TOKEN, env: { API_LISTEN: "127.0.0.1:0" }, inheritEnv: true });
  port = await freePort();
  metricsPort = await freePort();
  const socket = (api.internal as { socketPath: string }).socketPath;
  nginx = await startNginx(
    dir,
    config(
      dir,
      `
  set_backend_filter ${resolver};
  set_backend_filter_config '{"resolver_cluster": "route_api"}';
  set_backend_shared_zone set_backend 8m;
  set_backend_cluster route_api unix:${socket};
  server {
    listen 127.0.0.1:${port};
    location / {
      set_backend $backend;
      proxy_pass http://$backend$request_uri;
    }
  }
  server {
    listen 127.0.0.1:${metricsPort};
    location = /metrics { set_backend_metrics; }
  }`,
      { workers: 2 },
    ),
    metricsPort,
  );
  const address = `127.0.0.1:${(backend.address() as AddressInfo).port}`;
  for (const host of ["a.example", "b.example", "c.example"]) {
    const reply = await request(api.public, "POST", "/entries.json", { headers: authHeaders(TOKEN), body: JSON.stringify({ host, backend: address }) });
    if (reply.status !== 201) throw new Error(`route: ${reply.status} ${reply.body}`);
  }
});

test.after.always(async () => {
  await nginx?.stop();
  await api?.stop();
  await new Promise((r) => (backend.closeAllConnections(), backend.close(r)));
  cleanup(dir);
});

test.serial("counters match the traffic sent, summed over both workers", async (t) => {
  const workers = nginx.workers();
  t.is(workers.length, 2);
  // Once the change feed has announced the three routes, it cannot drop a cache
  // entry made by a first request (which would make a second miss).
  await until(async () => (sample(await metrics(), "set_backend_filter_feed_seq") ?? 0) >= 3, "the feed to apply the routes", 15_000);
  const hosts = ["a.example", "b.example", "c.example"];
  // One miss per host (the first request), then hits from the shared zone, on whichever
  // worker takes each new connection.
  for (let i = 0; i < 30; i++) t.is((await get(port, "/", { host: hosts[i % 3]! })).status, 200);
  t.is((await get(port, "/", { host: "unknown.example" })).status, 404); // a lookup answered 404
  t.is((await get(port, "/", { host: "unknown.example" })).status, 404); // the cached 404
  t.is((await get(port, "/", { host: "bad_host" })).status, 400);

  const text = await metrics();
  t.is(sample(text, 'set_backend_requests_total{waited="true",result="backend"}'), 3);
  t.is(sample(text, 'set_backend_requests_total{waited="false",result="backend"}'), 27);
  t.is(sample(text, 'set_backend_requests_total{waited="true",result="page",status="404"}'), 1);
  t.is(sample(text, 'set_backend_requests_total{waited="false",result="page",status="404"}'), 1);
  t.is(sample(text, 'set_backend_requests_total{waited="false",result="page",status="400"}'), 1);
  t.is(sample(text, 'set_backend_requests_total{waited="false",result="error"}'), 0);
  t.true(sample(text, 'set_backend_http_calls_total{result="2xx"}')! >= 3, "3 lookups answered 200 (and feed polls)");
  t.true(sample(text, 'set_backend_http_calls_total{result="4xx"}')! >= 1);
  t.is(sample(text, 'set_backend_filter_traps_total{kind="deadline"}'), 0);
  t.is(sample(text, 'set_backend_zone_bytes{state="total"}'), 8 * 1024 * 1024);
  t.true(sample(text, 'set_backend_zone_bytes{state="used"}')! > 0);
  t.true(sample(text, "set_backend_zone_entries")! >= 4, "3 routes and a 404, plus the feed's keys");

  // The filter's own metrics reach the zone on each worker's next tick.
  let after = "";
  await until(async () => {
    after = await metrics();
    return sample(after, "set_backend_filter_lookup_duration_ms_count") === 4;
  }, "the filter's metrics of both workers", 15_000);
  t.is(sample(after, "set_backend_workers_reporting"), 2);
  t.is(sample(after, "set_backend_filter_lookups_found_total"), 3);
  t.is(sample(after, "set_backend_filter_lookups_not_found_total"), 1);
  t.is(sample(after, 'set_backend_filter_lookup_duration_ms_bucket{le="+Inf"}'), 4);
  t.true(sample(after, "set_backend_filter_feed_seq")! >= 3, "the follower applied the three route changes");
  t.regex(after, /^# TYPE set_backend_filter_lookup_duration_ms histogram$/m);
});

test.serial("the metrics location answers GET only, and nginx -t refuses it beside another content handler", async (t) => {
  t.is((await nginxRequest(metricsPort, "/metrics", { method: "POST", body: "x" })).status, 405);
  const bad = nginxTest(dir, config(dir, `server { listen 127.0.0.1:1; location / { proxy_pass http://127.0.0.1:2; set_backend_metrics; } }`));
  t.not(bad.status, 0);
  t.regex(bad.output, /"set_backend_metrics" conflicts with another content handler/);
});
