// What happens when parts of the system go away.
import test from "ava";
import { startEchoBackend, startSystem, until } from "./system.ts";

test.serial("with the API down, cached hosts keep routing and others get the 503 page", async (t) => {
  const s = await startSystem(t);
  const app = await startEchoBackend(t, "app");
  await s.manage("POST", "/entries.json", { host: "cached.example.com", backend: app.address });
  await s.manage("POST", "/entries.json", { host: "uncached.example.com", backend: app.address });
  t.is((await s.request("cached.example.com")).status, 200);

  await s.stopApi();
  const cached = await s.request("cached.example.com", "/still-here");
  t.is(cached.status, 200);
  t.is(cached.json().url, "/still-here");
  const uncached = await s.request("uncached.example.com");
  t.is(uncached.status, 503);
  t.regex(String(uncached.headers["content-type"]), /^text\/html/);
  t.true(uncached.body.includes("uncached.example.com"));
  const json = await s.request("uncached.example.com", "/", { headers: { Accept: "application/json" } });
  t.is(json.status, 503);
  t.is(json.headers["content-type"], "application/json");
  t.like(json.json(), { error: "service_unavailable", status: 503, host: "uncached.example.com" });
  const text = await s.request("uncached.example.com", "/", { headers: { Accept: "text/plain" } });
  t.is(text.status, 503);
  t.is(text.headers["content-type"], "text/plain; charset=utf-8");
  t.regex(text.body, /^503 Service Unavailable: .*uncached\.example\.com.*\n$/);

  await s.startApi();
  // Once the API is back, the host resolves again (after the short error TTL).
  await until(async () => (await s.request("uncached.example.com")).status === 200, "the host to resolve again", 10_000, 100);
  t.is((await s.request("uncached.example.com")).status, 200);
});

test.serial("after a restart of everything the routes are still there", async (t) => {
  const s = await startSystem(t);
  const app = await startEchoBackend(t, "app");
  await s.manage("POST", "/entries.json", { host: "durable.example.com", backend: app.address });
  await s.stopNginx();
  await s.stopApi();
  await s.startApi();
  await s.startNginx();
  const reply = await s.request("durable.example.com");
  t.is(reply.status, 200);
  t.is(reply.json().name, "app");
  t.deepEqual((await s.manage("GET", "/entries.json")).json(), [{ host: "durable.example.com", backend: app.address }]);
});
