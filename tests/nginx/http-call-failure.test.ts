// A filter's http call to a cluster that is down reaches the filter as a failed
// call (no headers), and the filter's answer to that is sent.
import test from "ava";
import { join } from "node:path";
import { cleanup, config, freePort, get, requireModule, startNginx, tempDir, testFilter, type Nginx } from "./harness.ts";

let dir = "";
let port = 0;
let nginx: Nginx;

test.before(async () => {
  requireModule();
  dir = tempDir();
  port = await freePort();
  nginx = await startNginx(
    dir,
    config(
      dir,
      `set_backend_filter ${testFilter(dir)};
       set_backend_cluster api unix:${join(dir, "nobody-listens.sock")};
       server { listen 127.0.0.1:${port}; location / { set_backend $backend; proxy_pass http://$backend; } }`,
    ),
    port,
  );
});

test.after.always(async () => {
  await nginx?.stop();
  cleanup(dir);
});

test("a call to a cluster that is down reaches the filter as a failure", async (t) => {
  const r = await get(port, "/", { "x-call": "1" });
  t.is(r.status, 503);
  t.is(r.body, "failed");
  t.regex(nginx.errorLog(), /http call to cluster "api" could not connect/);
});
