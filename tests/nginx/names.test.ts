// Backends given by name, end to end: the real route API (which resolves names,
// here from a hosts file the test rewrites, and from the machine's /etc/hosts)
// and Debian's nginx with the module and the resolver filter, in both forms:
// the balancer with keep-alive, and the seed's proxy_pass http://$backend$request_uri.
import { writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import { authHeaders, request, startService, type ServiceProcess } from "../../api/test/fixtures/service-process.ts";
import { cleanup, config, freePort, get, until, requireModule, startNginx, tempDir, type Nginx } from "./harness.ts";

const resolver = fileURLToPath(new URL("../../build/resolver.wasm", import.meta.url));
const TOKEN = "names-test-token-0123456789";

let dir = "";
let hostsFile = "";
let api: ServiceProcess;
let nginx: Nginx;
let balancerPort = 0;
let seedPort = 0;
let sharedPort = 0;
const servers: http.Server[] = [];

/** A backend on `address`:`port` that answers with its own name. */
async function backend(name: string, address: string, port: number): Promise<number> {
  const server = http.createServer((req, res) => {
    res.setHeader("x-backend", name);
    res.end(`${name} ${req.headers.host} ${req.url}`);
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, address, resolve));
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

const whoAnswers = async (port: number, host: string) => {
  const reply = await get(port, "/x", { host });
  return reply.status === 200 ? String(reply.headers["x-backend"]) : `status ${reply.status}`;
};

async function route(host: string, backend: string): Promise<void> {
  const reply = await request(api.public, "POST", "/entries.json", {
    headers: authHeaders(TOKEN),
    body: JSON.stringify({ host, backend }),
  });
  if (reply.status !== 201 && reply.status !== 200) throw new Error(`route ${host}: ${reply.status} ${reply.body}`);
}

test.before(async () => {
  requireModule();
  dir = tempDir();
  hostsFile = join(dir, "hosts");
  // One port for the backends that a name moves between (127.0.0.2 and 127.0.0.3).
  sharedPort = await freePort();
  await backend("at-2", "127.0.0.2", sharedPort);
  await backend("at-3", "127.0.0.3", sharedPort);
  writeFileSync(hostsFile, `127.0.0.2 app.test\n127.0.0.4 multi.test\n127.0.0.2 multi.test\n`);
  api = await startService({
    stateDir: join(dir, "state"),
    token: TOKEN,
    env: { API_LISTEN: "127.0.0.1:0", BACKEND_HOSTS_FILE: hostsFile, BACKEND_NAME_TTL_MS: "1000" },
    inheritEnv: true,
  });
  balancerPort = await freePort();
  seedPort = await freePort();
  const socket = (api.internal as { socketPath: string }).socketPath;
  const conf = config(
    dir,
    `
  set_backend_filter ${resolver};
  set_backend_filter_config '{"resolver_cluster": "route_api"}';
  set_backend_shared_zone set_backend 8m;
  set_backend_cluster route_api unix:${socket};
  upstream routed {
    set_backend_balancer;
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${balancerPort};
    location / {
      set_backend $backend;
      proxy_pass http://routed;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_next_upstream error timeout;
      proxy_connect_timeout 2s;
    }
  }
  server {
    listen 127.0.0.1:${seedPort};
    location / {
      set_backend $backend;
      proxy_pass http://$backend$request_uri;
    }
  }`,
    { workers: 2 },
  );
  nginx = await startNginx(dir, conf, seedPort);
});

test.after.always(async () => {
  await nginx?.stop();
  await api?.stop();
  await Promise.all(servers.map((s) => new Promise((r) => (s.closeAllConnections(), s.close(r)))));
  cleanup(dir);
});

test.serial("the seed's example, a backend at localhost:<port>, is routed in both forms", async (t) => {
  const port = await backend("localhost-app", "127.0.0.1", 0);
  await route("some.host.com", `localhost:${port}`);
  for (const front of [balancerPort, seedPort]) {
    const reply = await get(front, "/index.html?a=1", { host: "some.host.com" });
    t.is(reply.status, 200, `port ${front}: ${reply.body}`);
    t.is(reply.headers["x-backend"], "localhost-app");
    t.true(reply.body.endsWith(" /index.html?a=1"));
  }
  // The balancer form keeps the client's Host; the seed's form sends its own ($proxy_host).
  t.regex((await get(balancerPort, "/", { host: "some.host.com" })).body, / some\.host\.com \//);
});

test.serial("a name from the hosts file routes, and follows the file when the name moves", async (t) => {
  await route("moving.example", `app.test:${sharedPort}`);
  t.is(await whoAnswers(balancerPort, "moving.example"), "at-2");
  t.is(await whoAnswers(seedPort, "moving.example"), "at-2");
  writeFileSync(hostsFile, `127.0.0.3 app.test\n127.0.0.4 multi.test\n127.0.0.2 multi.test\n`);
  // Bound: the name's lifetime, 1 s here (the filter's copy expires with the API's). Generous for a loaded machine.
  const moved = Date.now();
  await until(async () => (await whoAnswers(balancerPort, "moving.example")) === "at-3", "the balancer form to follow the name", 20_000);
  await until(async () => (await whoAnswers(seedPort, "moving.example")) === "at-3", "the seed form to follow the name", 20_000);
  t.log(`followed the move in ${Date.now() - moved} ms`);
  // And stays there: no worker keeps the old address.
  for (let i = 0; i < 10; i++) t.is(await whoAnswers(balancerPort, "moving.example"), "at-3");
});

test.serial("a name with several addresses: the balancer connects to the next one when the first refuses", async (t) => {
  // multi.test is 127.0.0.4 (nothing listens there) then 127.0.0.2.
  await route("multi.example", `multi.test:${sharedPort}`);
  for (let i = 0; i < 5; i++) t.is(await whoAnswers(balancerPort, "multi.example"), "at-2");
  t.regex(nginx.errorLog(), /connect\(\) failed \(111: Connection refused\) while connecting to upstream.*127\.0\.0\.4/);
});

test.serial("a name that does not resolve gets the 502 page and one log line naming the host and the backend", async (t) => {
  await route("broken.example", "nothing.invalid:8080");
  for (const front of [balancerPort, seedPort, balancerPort]) {
    const reply = await get(front, "/", { host: "broken.example", accept: "application/json" });
    t.is(reply.status, 502);
    t.like(JSON.parse(reply.body), { error: "bad_gateway", host: "broken.example" });
  }
  const lines = nginx.errorLog().split("\n").filter((l) => l.includes("does not resolve"));
  t.is(lines.length, 1, lines.join("\n"));
  t.regex(lines[0]!, /host broken\.example: backend nothing\.invalid:8080 does not resolve/);
});
