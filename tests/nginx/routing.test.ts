// Requests through Debian's nginx with the module and the test filter: the variable
// form, the balancer form with keep-alive, local responses, pause/resume around an
// http call, traps and deadlines, shared data across workers and reloads, ticks.
import test from "ava";
import { chmodSync, readdirSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import {
  cleanup, config, freePort, get, requireModule, startApi, startBackend, startNginx, tempDir, testFilter, until,
  type Api, type Backend, type Nginx,
} from "./harness.ts";

let dir = "";
let port = 0;
let backend: Backend;
let api: Api;
let nginx: Nginx;

test.before(async () => {
  requireModule();
  dir = tempDir();
  const filter = testFilter(dir);
  backend = await startBackend();
  api = await startApi(dir, () => `127.0.0.1:${backend.port}`);
  port = await freePort();
  nginx = await startNginx(
    dir,
    config(
      dir,
      `set_backend_filter ${filter};
       set_backend_filter_config '{"tick":true}';
       set_backend_filter_timeout 20ms;
       set_backend_pause_timeout 300ms;
       set_backend_shared_zone test_shared 1m;
       set_backend_cluster api unix:${api.socket};
       upstream routed { set_backend_balancer; keepalive 8; }
       server {
         listen 127.0.0.1:${port} reuseport;
         add_header x-worker $pid always;
         location / { set_backend $backend; proxy_pass http://$backend$request_uri; }
         location = /_metrics { set_backend_metrics; }
         location /balanced/ {
           set_backend;
           proxy_pass http://routed;
           proxy_http_version 1.1;
           proxy_set_header Connection "";
         }
       }`,
      { workers: 2 },
    ),
    port,
  );
});

test.after.always(async () => {
  await nginx?.stop();
  await backend?.close();
  await api?.close();
  cleanup(dir);
});

const target = () => ({ "x-backend": `127.0.0.1:${backend.port}` });

test.serial("set_backend $backend + proxy_pass http://$backend reaches the chosen backend", async (t) => {
  const r = await get(port, "/hello?x=1", target());
  t.is(r.status, 200);
  t.is(r.body, "backend /hello?x=1");
  t.is(backend.seen.at(-1)?.host, `127.0.0.1:${backend.port}`);
});

test.serial("a request the filter gives no backend fails like an empty proxy_pass target", async (t) => {
  const r = await get(port, "/none");
  t.true(r.status >= 500, `status ${r.status}`);
});

test.serial("the balancer form reuses one backend connection across requests (keepalive)", async (t) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const before = backend.seen.length;
  for (let i = 0; i < 5; i++) {
    const r = await get(port, `/balanced/${i}`, target(), agent);
    t.is(r.status, 200);
    t.is(r.body, `backend /balanced/${i}`);
  }
  agent.destroy();
  const ports = new Set(backend.seen.slice(before).map((s) => s.remotePort));
  // One client connection stays on one worker, whose keepalive cache serves them all.
  t.is(ports.size, 1, `backend saw connections from ports ${[...ports].join(", ")}`);
});

test.serial("both forms reach a unix-socket backend", async (t) => {
  const socket = join(dir, "backend.sock");
  const server = http.createServer((req, res) => res.end(`unix ${req.url}`));
  await new Promise<void>((r) => server.listen(socket, r));
  chmodSync(socket, 0o666);
  try {
    const r = await get(port, "/balanced/over-unix", { "x-backend": `unix:${socket}` });
    t.is(r.status, 200);
    t.is(r.body, "unix /balanced/over-unix");
    // proxy_pass http://$backend$request_uri: $backend is "unix:/path:" (nginx's URL syntax).
    const v = await get(port, "/variable/over-unix?q=1", { "x-backend": `unix:${socket}` });
    t.is(v.status, 200);
    t.is(v.body, "unix /variable/over-unix?q=1");
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test.serial("the balancer answers 502 when the chosen backend refuses connections", async (t) => {
  const r = await get(port, "/balanced/refused", { "x-backend": `127.0.0.1:${await freePort()}` });
  t.is(r.status, 502);
});

test.serial("the balancer answers 502 when the filter chose no usable backend", async (t) => {
  const r = await get(port, "/balanced/x", { "x-backend": "not-an-address" });
  t.is(r.status, 502);
  t.regex(nginx.errorLog(), /set_backend_balancer: backend "not-an-address" is not an IP address/);
});

test.serial("a local response from the filter is sent by nginx", async (t) => {
  const r = await get(port, "/", { "x-local": "1" });
  t.is(r.status, 418);
  t.is(r.body, "local");
  t.is(r.headers["x-from"], "filter");
});

test.serial("a paused request resumes when the filter's http call answers", async (t) => {
  const before = api.hits.get("/backend") ?? 0;
  const r = await get(port, "/after-call", { "x-call": "1" });
  t.is(r.status, 200);
  t.is(r.body, "backend /after-call");
  t.is(api.hits.get("/backend"), before + 1);
  const b = await get(port, "/balanced/after-call", { "x-call": "1" });
  t.is(b.body, "backend /balanced/after-call");
});

test.serial("http calls to a cluster reuse kept-alive connections", async (t) => {
  const calls = () => [...api.hits.values()].reduce((a, b) => a + b, 0);
  const [calls0, conns0] = [calls(), api.connections()];
  for (let i = 0; i < 10; i++) {
    t.is((await get(port, `/reuse${i}`, { "x-call": "1" })).status, 200);
  }
  const [newCalls, newConns] = [calls() - calls0, api.connections() - conns0];
  t.true(newCalls >= 10);
  t.true(newConns < newCalls / 2, `${newCalls} calls over ${newConns} new connections`);
});

/** One sample of the edge metrics (set_backend_metrics), summed over both workers. */
async function metric(series: string): Promise<number> {
  const text = (await get(port, "/_metrics")).body;
  return Number(text.split("\n").find((l) => l.startsWith(`${series} `))?.split(" ")[1] ?? Number.NaN);
}

test.serial("a trap costs one request a 500; the next request works; the edge metrics count it", async (t) => {
  const [faults, errors, restarts] = await Promise.all([
    metric('set_backend_filter_traps_total{kind="fault"}'),
    metric('set_backend_requests_total{waited="false",result="error"}'),
    metric("set_backend_filter_restarts_total"),
  ]);
  const r = await get(port, "/", { "x-trap": "1" });
  t.is(r.status, 500);
  t.regex(nginx.errorLog(), /filter trapped in proxy_on_request_headers: .*unreachable/);
  const ok = await get(port, "/after-trap", target());
  t.is(ok.status, 200);
  t.is(await metric('set_backend_filter_traps_total{kind="fault"}'), faults + 1);
  t.is(await metric('set_backend_requests_total{waited="false",result="error"}'), errors + 1);
  // The fresh instance is counted at that worker's next tick.
  await until(async () => (await metric("set_backend_filter_restarts_total")) === restarts + 1, "the restart to be counted");
});

test.serial("a looping filter is stopped by the deadline with a 500; the edge metrics count it", async (t) => {
  const stops = await metric('set_backend_filter_traps_total{kind="deadline"}');
  const r = await get(port, "/", { "x-loop": "1" });
  t.is(r.status, 500);
  t.regex(nginx.errorLog(), /deadline exceeded/);
  t.is((await get(port, "/after-loop", target())).status, 200);
  t.is(await metric('set_backend_filter_traps_total{kind="deadline"}'), stops + 1);
});

test.serial("the deadline costs no thread: each worker runs on its one thread", async (t) => {
  // The deadline is counted by a CPU-time timer signalling the worker itself; a
  // second thread would put glibc on its slower multi-thread paths for good.
  const workers = nginx.workers();
  t.is(workers.length, 2);
  for (const pid of workers) t.deepEqual(readdirSync(`/proc/${pid}/task`), [String(pid)], `worker ${pid}`);
  t.notRegex(nginx.errorLog(), /using a ticker thread instead/);
});

test.serial("a request the filter pauses and never continues ends with a 500", async (t) => {
  const r = await get(port, "/", { "x-pause": "1" });
  t.is(r.status, 500);
  t.regex(nginx.errorLog(), /did not continue the paused request within 300ms/);
  t.is((await get(port, "/after-pause", target())).status, 200);
});

test.serial("shared data written by one worker is read by both workers", async (t) => {
  const set = await get(port, "/", { "x-shared-set": "from-one-worker" });
  t.is(set.status, 204);
  const workers = new Set<string>();
  for (let i = 0; i < 40 && workers.size < 2; i++) {
    const r = await get(port, "/", { "x-shared-get": "1" });
    t.is(r.body, "from-one-worker");
    workers.add(String(r.headers["x-worker"]));
  }
  t.is(workers.size, 2, "both workers answered");
});

test.serial("shared data survives a reload", async (t) => {
  await get(port, "/", { "x-shared-set": "before-reload" });
  await nginx.reload();
  const r = await get(port, "/", { "x-shared-get": "1" });
  t.is(r.status, 200);
  t.is(r.body, "before-reload");
});

test.serial("ticks in each worker make http calls from the root context", async (t) => {
  const start = api.hits.get("/tick") ?? 0;
  await until(() => (api.hits.get("/tick") ?? 0) >= start + 4, "four ticks' http calls", 5000);
  t.true((api.hits.get("/tick") ?? 0) >= start + 4);
});
