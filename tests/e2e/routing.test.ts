// Routes made through api.$DOMAIN take effect in nginx without a reload.
import net from "node:net";
import test from "ava";
import { until, startEchoBackend, startSystem, type System } from "./system.ts";

const backendName = async (s: System, host: string) => {
  const reply = await s.request(host);
  return reply.status === 200 ? String(reply.headers["x-backend"]) : `status ${reply.status}`;
};

/** How soon a change acknowledged by the API must be served by nginx (README: "within a second"). */
const LIVE_WITHIN_MS = 1000;

/** What `ask` answers ten times in a row, or "mixed" (the requests land on any worker). */
async function everyTime(ask: () => Promise<string>): Promise<string> {
  const first = await ask();
  for (let i = 1; i < 10; i++) if ((await ask()) !== first) return "mixed";
  return first;
}

test.serial("a routed request reaches its backend with method, path, query, body and headers intact", async (t) => {
  const s = await startSystem(t);
  const app = await startEchoBackend(t, "app");
  const created = await s.manage("POST", "/entries.json", { host: "some.host.com", backend: app.address });
  t.is(created.status, 201);

  const reply = await s.request("Some.Host.com", "/a/b%20c?x=1&y=%2F", {
    method: "POST",
    headers: { "Content-Type": "text/plain", "X-Custom": "kept", Cookie: "a=b" },
    body: "hello body",
  });
  t.is(reply.status, 200);
  const seen = reply.json();
  t.is(seen.name, "app");
  t.is(seen.method, "POST");
  t.is(seen.url, "/a/b%20c?x=1&y=%2F");
  t.is(seen.body, "hello body");
  t.is(seen.headers["x-custom"], "kept");
  t.is(seen.headers.cookie, "a=b");
  t.is(seen.headers.host, "Some.Host.com", "the client's Host is passed on as sent");
  t.is(seen.headers["x-forwarded-for"], "127.0.0.1");
  t.is(seen.headers["x-forwarded-proto"], "http");
  t.regex(seen.headers["x-request-id"], /^[0-9a-f]{32}$/);
});

test.serial("an update moves traffic without a reload; a delete brings the 404 page", async (t) => {
  const s = await startSystem(t);
  const blue = await startEchoBackend(t, "blue");
  const green = await startEchoBackend(t, "green");
  await s.manage("POST", "/entries.json", { host: "site.example.com", backend: blue.address });
  t.is(await backendName(s, "site.example.com"), "blue");

  const updated = await s.manage("PUT", "/entries/site.example.com.json", { backend: green.address });
  t.is(updated.status, 200);
  // README's promise: live on every worker within a second of the API's acknowledgement.
  // Ten requests in a row, each on a new connection (any worker), must reach the new backend.
  const moved = await until(async () => (await everyTime(() => backendName(s, "site.example.com"))) === "green", "traffic to move");
  t.log(`traffic moved ${moved} ms after the API acknowledged the update`);
  t.true(moved <= LIVE_WITHIN_MS, `traffic moved ${moved} ms after the acknowledgement`);

  t.is((await s.manage("DELETE", "/entries/site.example.com.json")).status, 204);
  const gone = await until(async () => (await everyTime(() => backendName(s, "site.example.com"))) === "status 404", "the route to disappear");
  t.true(gone <= LIVE_WITHIN_MS, `the route was gone ${gone} ms after the acknowledgement`);
  const page = await s.request("site.example.com");
  t.regex(String(page.headers["content-type"]), /^text\/html/);
  t.true(page.body.includes("site.example.com"));
});

test.serial("wildcard and catch-all routes, most specific first", async (t) => {
  const s = await startSystem(t);
  const exact = await startEchoBackend(t, "exact");
  const wild = await startEchoBackend(t, "wild");
  const deeper = await startEchoBackend(t, "deeper");
  const fallback = await startEchoBackend(t, "fallback");
  await s.manage("POST", "/entries.json", { host: "www.example.com", backend: exact.address });
  await s.manage("POST", "/entries.json", { host: "*.example.com", backend: wild.address });
  await s.manage("POST", "/entries.json", { host: "*.preview.example.com", backend: deeper.address });
  t.is(await backendName(s, "www.example.com"), "exact");
  t.is(await backendName(s, "shop.example.com"), "wild");
  t.is(await backendName(s, "pr-42.preview.example.com"), "deeper");
  t.is(await backendName(s, "example.com"), "status 404", "*.example.com does not cover example.com itself");

  await s.manage("POST", "/entries.json", { host: "*", backend: fallback.address });
  // A catch-all invalidates every cached answer it may change, negative ones included.
  const applied = await until(async () => (await everyTime(() => backendName(s, "example.com"))) === "fallback", "the catch-all to apply");
  t.true(applied <= LIVE_WITHIN_MS, `the catch-all applied ${applied} ms after the acknowledgement`);
  t.is(await backendName(s, "anything.test"), "fallback");
  t.is(await backendName(s, "shop.example.com"), "wild");
});

test.serial("an unknown host gets the 404 page with the host escaped, in HTML, text or JSON", async (t) => {
  const s = await startSystem(t);
  const reply = await s.request("nobody-home.example.org");
  t.is(reply.status, 404);
  t.regex(String(reply.headers["content-type"]), /^text\/html/);
  t.true(reply.body.includes("nobody-home.example.org"));
  const json = await s.request("Nobody-Home.example.org", "/", { headers: { Accept: "application/json" } });
  t.is(json.status, 404);
  t.is(json.headers["content-type"], "application/json");
  t.is(json.headers["cache-control"], "no-store");
  t.like(json.json(), { error: "not_found", status: 404, host: "nobody-home.example.org" });
  const text = await s.request("nobody-home.example.org", "/", { headers: { Accept: "text/plain" } });
  t.is(text.status, 404);
  t.is(text.headers["content-type"], "text/plain; charset=utf-8");
  t.is(text.body, "404 Not Found: there is no site at nobody-home.example.org\n");
});

test.serial("a backend that refuses connections gets the 502 page, in HTML, text or JSON", async (t) => {
  const s = await startSystem(t);
  const gone = await startEchoBackend(t, "gone");
  await gone.close();
  await s.manage("POST", "/entries.json", { host: "down.example.com", backend: gone.address });
  const html = await s.request("down.example.com");
  t.is(html.status, 502);
  t.regex(String(html.headers["content-type"]), /^text\/html/);
  t.true(html.body.includes("down.example.com"));
  const json = await s.request("down.example.com", "/", { headers: { Accept: "application/json" } });
  t.is(json.status, 502);
  t.like(json.json(), { error: "bad_gateway", status: 502, host: "down.example.com" });
  const text = await s.request("down.example.com", "/", { headers: { Accept: "text/plain" } });
  t.is(text.status, 502);
  t.regex(text.body, /^502 Bad Gateway: the backend of down.example.com/);
});

test.serial("a backend that does not answer in time gets the 504 page", async (t) => {
  const s = await startSystem(t, { backendTimeout: "1s" });
  // Accepts connections and reads requests, never answers.
  const silent = net.createServer((socket) => socket.on("data", () => {}));
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  t.teardown(() => new Promise<void>((r) => silent.close(() => r())));
  const address = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
  await s.manage("POST", "/entries.json", { host: "slow.example.com", backend: address });
  const html = await s.request("slow.example.com");
  t.is(html.status, 504);
  t.regex(String(html.headers["content-type"]), /^text\/html/);
  t.true(html.body.includes("slow.example.com"));
  const json = await s.request("slow.example.com", "/", { headers: { Accept: "application/json" } });
  t.like(json.json(), { error: "gateway_timeout", status: 504, host: "slow.example.com" });
});

test.serial("api.$DOMAIN serves the management API, refuses writes without the token, never exposes /resolve or /changes", async (t) => {
  const s = await startSystem(t);
  const app = await startEchoBackend(t, "app");
  const refused = await s.manage("POST", "/entries.json", { host: "x.example.com", backend: app.address }, false);
  t.is(refused.status, 401);
  t.is((await s.manage("GET", "/entries.json", undefined, false)).status, 401);
  t.is((await s.manage("DELETE", "/entries/x.example.com.json", undefined, false)).status, 401);
  for (const path of ["/resolve/x.example.com", "/changes?since=0"]) {
    t.is((await s.manage("GET", path)).status, 404, path);
    t.is((await s.manage("GET", path, undefined, false)).status, 404, path);
  }
  const docs = await s.manage("GET", "/", undefined, false);
  t.is(docs.status, 200);
  t.true(docs.body.includes("POST /entries.json"));
  t.is((await s.manage("GET", "/healthz", undefined, false)).json().status, "ok");
  t.deepEqual((await s.manage("GET", "/entries.json")).json(), []);
});
