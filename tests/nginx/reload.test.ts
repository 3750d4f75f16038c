// Reload (HUP) under traffic: requests keep succeeding while workers are replaced,
// including requests paused around an http call when the reload happens.
import test from "ava";
import {
  cleanup, config, freePort, get, requireModule, startApi, startBackend, startNginx, tempDir, testFilter,
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
  backend = await startBackend();
  api = await startApi(dir, () => `127.0.0.1:${backend.port}`);
  port = await freePort();
  nginx = await startNginx(
    dir,
    config(
      dir,
      `set_backend_filter ${testFilter(dir)};
       set_backend_shared_zone reload_zone 1m;
       set_backend_cluster api unix:${api.socket};
       upstream routed { set_backend_balancer; keepalive 8; }
       server {
         listen 127.0.0.1:${port};
         location / { set_backend $backend; proxy_pass http://routed; proxy_http_version 1.1; proxy_set_header Connection ""; }
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

test("no request fails across three reloads", async (t) => {
  let stop = false;
  const statuses: number[] = [];
  const errors: string[] = [];
  // Four clients in a loop, alternating the direct and the paused (http call) path.
  const clients = [0, 1, 2, 3].map(async (n) => {
    for (let i = 0; !stop && i < 2000; i++) {
      const headers: Record<string, string> =
        (i + n) % 2 === 0 ? { "x-backend": `127.0.0.1:${backend.port}` } : { "x-call": "1" };
      try {
        statuses.push((await get(port, `/r${n}-${i}`, headers)).status);
      } catch (e) {
        errors.push(String(e));
      }
    }
  });
  for (let k = 0; k < 3; k++) {
    await new Promise((r) => setTimeout(r, 100));
    await nginx.reload();
  }
  await new Promise((r) => setTimeout(r, 100));
  stop = true;
  await Promise.all(clients);
  t.deepEqual(errors, []);
  t.true(statuses.length > 0);
  t.deepEqual(statuses.filter((s) => s !== 200), [], `of ${statuses.length} requests`);
});
