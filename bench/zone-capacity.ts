// How many routes the shared cache zone holds: fills a zone of ZONE (default 2m)
// through real nginx, the module, the resolver filter and the route API (a
// catch-all route, so every new host is one more cache entry), until the zone
// first evicts; reports entries, bytes per entry and what 64 MiB would hold.
// Run: make bench-zone (ZONE=8m for a larger sample; HOST_LENGTH sets the host names' length).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { authHeaders, request, startService } from "../api/test/fixtures/service-process.ts";
import { cleanup, config, freePort, requireModule, startNginx, tempDir } from "../tests/nginx/harness.ts";

const ZONE = process.env.ZONE ?? "2m";
const HOST_LENGTH = Number(process.env.HOST_LENGTH ?? 24);
const TOKEN = "bench-zone-token-0123456789";
const resolver = fileURLToPath(new URL("../build/resolver.wasm", import.meta.url));

const zoneBytes = (size: string) => Number.parseInt(size, 10) * (/m$/i.test(size) ? 2 ** 20 : /k$/i.test(size) ? 2 ** 10 : 1);
const sample = (text: string, series: string) => Number(text.split("\n").find((l) => l.startsWith(`${series} `))?.split(" ")[1]);
// "h<n>.example.com", padded with digits to HOST_LENGTH characters.
const hostName = (n: number) => `h${String(n).padStart(Math.max(1, HOST_LENGTH - 13), "0")}.example.com`;

requireModule();
const dir = tempDir();
const backend = http.createServer((_req, res) => res.writeHead(204).end());
await new Promise<void>((r) => backend.listen(0, "127.0.0.1", r));
const api = await startService({ stateDir: join(dir, "state"), token: TOKEN, env: { API_LISTEN: "127.0.0.1:0", LOG_LEVEL: "warn" } });
const port = await freePort();
const metricsPort = await freePort();
const nginx = await startNginx(
  dir,
  config(
    dir,
    `
  set_backend_filter ${resolver};
  set_backend_filter_config '{"resolver_cluster": "route_api"}';
  set_backend_shared_zone set_backend ${ZONE};
  set_backend_cluster route_api unix:${(api.internal as { socketPath: string }).socketPath};
  upstream routed { set_backend_balancer; keepalive 16; }
  server {
    listen 127.0.0.1:${port};
    location / { set_backend $backend; proxy_pass http://routed; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
  server { listen 127.0.0.1:${metricsPort}; location = /metrics { set_backend_metrics; } }`,
  ),
  metricsPort,
);
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
const get = (p: number, host: string, path = "/") =>
  new Promise<string>((resolve, reject) => {
    http.get({ host: "127.0.0.1", port: p, path, headers: { host }, agent }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c)).on("end", () => resolve(body));
    }).on("error", reject);
  });

try {
  const address = `127.0.0.1:${(backend.address() as AddressInfo).port}`;
  const put = await request(api.public, "POST", "/entries.json", { headers: authHeaders(TOKEN), body: JSON.stringify({ host: "*", backend: address }) });
  if (put.status !== 201) throw new Error(`route: ${put.status}`);
  let n = 0;
  let text = "";
  const started = performance.now();
  for (;;) {
    await Promise.all(Array.from({ length: 8 }, () => get(port, hostName(n++))));
    if (n % 256 !== 0) continue;
    text = await get(metricsPort, "m", "/metrics");
    if (sample(text, "set_backend_zone_evictions_total") > 0) break;
    if (n > 10_000_000) throw new Error("no eviction after 10M hosts");
  }
  const entries = sample(text, "set_backend_zone_entries");
  const total = zoneBytes(ZONE);
  const perEntry = total / entries;
  console.log(`zone ${ZONE}: first eviction after ${n} new hosts (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  console.log(`entries held: ${entries} (host names of ${hostName(0).length} characters, backend ${address})`);
  console.log(`zone bytes per entry: ${perEntry.toFixed(0)} B (used ${sample(text, 'set_backend_zone_bytes{state="used"}')} of ${total})`);
  console.log(`64 MiB would hold about ${Math.floor((64 * 2 ** 20) / perEntry).toLocaleString("en")} routes`);
} finally {
  agent.destroy();
  await nginx.stop();
  await api.stop();
  backend.close();
  cleanup(dir);
}
