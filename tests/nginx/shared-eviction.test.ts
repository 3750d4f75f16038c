// A full shared zone evicts least recently used entries, counts them, and keeps
// answering; keys are compared in full.
import test from "ava";
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
       set_backend_shared_zone small 32k;
       server {
         listen 127.0.0.1:${port};
         add_header x-entries $set_backend_shared_entries always;
         add_header x-evictions $set_backend_shared_evictions always;
         location / { set_backend $backend; proxy_pass http://$backend; }
       }`,
    ),
    port,
  );
});

test.after.always(async () => {
  await nginx?.stop();
  cleanup(dir);
});

test.serial("a full zone evicts the least recently used entries and counts them", async (t) => {
  const first = await get(port, "/", { "x-shared-put": "1", "x-shared-key": "key-0" });
  t.is(first.status, 204);
  t.is(first.headers["x-evictions"], "0");
  for (let i = 1; i < 60; i++) {
    t.is((await get(port, "/", { "x-shared-put": "1", "x-shared-key": `key-${i}` })).status, 204);
  }
  const last = await get(port, "/", { "x-shared-get": "1", "x-shared-key": "key-59" });
  t.is(last.status, 200);
  t.is(last.body.length > 0, true);
  const evictions = Number(last.headers["x-evictions"]);
  t.true(evictions > 0, `evictions: ${evictions}`);
  t.is(Number(last.headers["x-entries"]) + evictions, 60);
  t.is((await get(port, "/", { "x-shared-get": "1", "x-shared-key": "key-0" })).status, 404, "oldest entry evicted");
});

test.serial("keys that share a prefix are distinct entries", async (t) => {
  await get(port, "/", { "x-shared-set": "short", "x-shared-key": "pre" });
  await get(port, "/", { "x-shared-set": "long", "x-shared-key": "prefix" });
  t.is((await get(port, "/", { "x-shared-get": "1", "x-shared-key": "pre" })).body, "short");
  t.is((await get(port, "/", { "x-shared-get": "1", "x-shared-key": "prefix" })).body, "long");
});

test.serial("a read keeps an entry from being evicted before unread ones of its age", async (t) => {
  const put = (key: string) => get(port, "/", { "x-shared-put": "1", "x-shared-key": key });
  const read = (key: string) => get(port, "/", { "x-shared-get": "1", "x-shared-key": key });
  // Fill the zone with entries of one size (the earlier tests left smaller ones):
  // from then on every put evicts exactly one entry.
  let full = 0;
  for (let i = 0; i < 40; i++) full = Number((await put(`fill-${i}`)).headers["x-entries"]);
  t.true(full >= 4, `the zone holds ${full} entries`);
  t.is((await put("keep")).status, 204);
  const half = Math.ceil(full / 2);
  for (let i = 0; i < half; i++) t.is((await put(`a-${i}`)).status, 204);
  t.is((await read("keep")).status, 200, "still there after half a zone of puts");
  for (let i = 0; i < full - 2; i++) t.is((await put(`b-${i}`)).status, 204);
  // "keep" went in before "a-0": unread, it would have gone first.
  t.is((await read("a-0")).status, 404, "an unread entry of the same age was evicted");
  t.is((await read("keep")).status, 200, "the entry read in between was kept");
});
