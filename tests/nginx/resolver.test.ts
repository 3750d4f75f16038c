// The real resolver filter (build/resolver.wasm, from wasm/) inside Debian's nginx
// with the module, against a stand-in route API on a unix socket (its answers
// checked against the internal API's contract): a miss pauses
// requests until one lookup answers (made from the filter's root context, which
// continues every waiting request), hits are served from the shared zone, and
// unknown hosts get the filter's 404.
import test from "ava";
import { existsSync } from "node:fs";
import http2 from "node:http2";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import {
  cleanup, config, freePort, get, requireModule, startBackend, startNginx, startRouteApiStandIn, tempDir, until,
  type Backend, type Nginx, type RouteApiStandIn,
} from "./harness.ts";

const resolver = process.env.SET_BACKEND_FILTER ?? fileURLToPath(new URL("../../build/resolver.wasm", import.meta.url));

let dir = "";
let port = 0;
let h2port = 0;
let backend: Backend;
let nginx: Nginx;
let api: RouteApiStandIn;
const resolves = new Map<string, number>();
let answerDelayMs = 0;
let idlePolls = 0;

test.before(async () => {
  requireModule();
  if (!existsSync(resolver)) throw new Error(`${resolver} is missing: build it with npx asc --config asconfig.json --target release`);
  dir = tempDir();
  backend = await startBackend();
  api = await startRouteApiStandIn(dir, async (path) => {
    const m = /^\/resolve\/(.+)$/.exec(path);
    if (m?.[1]) {
      const host = decodeURIComponent(m[1]);
      resolves.set(host, (resolves.get(host) ?? 0) + 1);
      await sleep(answerDelayMs);
      if (host.startsWith("unknown.")) return { status: 404, body: JSON.stringify({ error: "not_found", message: `no route for ${host}` }) };
      const address = `127.0.0.1:${backend.port}`;
      return { status: 200, body: JSON.stringify({ host, backend: address, match: "exact", pattern: host, addresses: [address] }) };
    }
    // An idle feed at seq 0: a follower asking from beyond it (a fresh zone's
    // first poll) gets the reset the API gives; otherwise "nothing changed", after a while.
    if (Number(new URLSearchParams(path.split("?")[1]).get("since")) > 0) return { status: 200, body: '{"seq":0,"reset":true}' };
    idlePolls++;
    await sleep(1000);
    return { status: 200, body: '{"seq":0,"changes":[]}' };
  });
  port = await freePort();
  h2port = await freePort();
  nginx = await startNginx(
    dir,
    config(
      dir,
      `set_backend_filter ${resolver};
       set_backend_filter_config '{"resolver_cluster": "route_api", "poll_wait_ms": 1000}';
       set_backend_shared_zone resolver_cache 4m;
       set_backend_cluster route_api unix:${api.socket};
       upstream routed { set_backend_balancer; keepalive 8; }
       server {
         listen 127.0.0.1:${port};
         listen 127.0.0.1:${h2port} http2;
         location / { set_backend $backend; proxy_pass http://routed; proxy_http_version 1.1; proxy_set_header Connection ""; }
       }`,
    ),
    port,
  );
  // The follower has applied the start-up reset (which expires every entry) once it polls from seq 0.
  await until(() => idlePolls > 0, "the change-feed follower to start");
});

test.after.always(async () => {
  await nginx?.stop();
  await backend?.close();
  await api?.close();
  cleanup(dir);
});

// Every answer the stand-in gave is one the real route API could give.
test.afterEach.always((t) => t.deepEqual(api.violations.splice(0), []));

test.serial("concurrent requests for an uncached host wait for one lookup and all reach the backend", async (t) => {
  answerDelayMs = 200;
  const replies = await Promise.all(
    Array.from({ length: 10 }, (_, i) => get(port, `/page${i}`, { host: "Blog.Example.COM" })),
  );
  answerDelayMs = 0;
  for (const [i, r] of replies.entries()) {
    t.is(r.status, 200);
    t.is(r.body, `backend /page${i}`);
  }
  t.is(resolves.get("blog.example.com"), 1, "one lookup for ten waiting requests");
});

test.serial("a cached host is routed without asking the API again", async (t) => {
  const before = resolves.get("blog.example.com") ?? 0;
  const r = await get(port, "/again", { host: "blog.example.com:8080" });
  t.is(r.status, 200);
  t.is(resolves.get("blog.example.com"), before);
});

test.serial("an unknown host gets the filter's 404 page", async (t) => {
  const r = await get(port, "/", { host: "unknown.example.com" });
  t.is(r.status, 404);
  t.regex(String(r.headers["content-type"]), /text\/html/);
});

test.serial("over HTTP/2 the filter routes by :authority", async (t) => {
  const session = http2.connect(`http://127.0.0.1:${h2port}`);
  const body = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = session.request({ ":path": "/h2", ":authority": "h2.example.com" });
    let status = 0;
    let data = "";
    req.on("response", (h) => (status = Number(h[":status"])));
    req.setEncoding("utf8");
    req.on("data", (c: string) => (data += c));
    req.on("end", () => resolve({ status, body: data }));
    req.on("error", reject);
    req.end();
  });
  session.close();
  t.is(body.status, 200);
  t.is(body.body, "backend /h2");
  t.is(resolves.get("h2.example.com"), 1);
});
