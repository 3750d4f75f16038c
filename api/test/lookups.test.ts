import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import vectors from "../../tests/vectors/hosts.json" with { type: "json" };
import { post, startTestService } from "./helpers.ts";

test("/resolve follows the shared match vectors against the real store", async (t) => {
  const s = await startTestService(t);
  for (const vector of vectors.match) {
    for (const route of vector.routes) await post(s, route, "localhost:3000");
    const reply = await s.internal(`/resolve/${encodeURIComponent(vector.host)}`);
    if (vector.pattern === null) {
      t.is(reply.status, 404, vector.host);
      t.is(reply.json().error, "not_found");
    } else {
      t.is(reply.status, 200, vector.host);
      t.like(reply.json(), { backend: "localhost:3000", match: vector.match, pattern: vector.pattern });
    }
    for (const route of vector.routes) await s.api(`/entries/${encodeURIComponent(route)}.json`, { method: "DELETE" });
  }
});

test("/resolve answers host, backend, match and pattern for the normalized host", async (t) => {
  const s = await startTestService(t);
  await post(s, "*.example.com", "10.0.0.7:3000");
  const reply = await s.internal("/resolve/WWW.Example.com.:8080");
  t.deepEqual(reply.json(), {
    host: "www.example.com",
    backend: "10.0.0.7:3000",
    match: "wildcard",
    pattern: "*.example.com",
    addresses: ["10.0.0.7:3000"],
  });
});

test("/resolve resolves a backend given by name through the system (localhost from /etc/hosts)", async (t) => {
  const s = await startTestService(t);
  await post(s, "some.host.com", "localhost:3000");
  const answer = (await s.internal("/resolve/some.host.com")).json();
  t.is(answer.backend, "localhost:3000", "the route as stored");
  t.true(answer.addresses.includes("127.0.0.1:3000"), JSON.stringify(answer.addresses));
  t.true(answer.ttl_ms > 0 && answer.ttl_ms <= 30_000);
});

test("/resolve takes names from BACKEND_HOSTS_FILE first, and follows the file when it changes", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "set-backend-hosts-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const hosts = join(dir, "hosts");
  writeFileSync(hosts, "127.0.0.2 app.test\n");
  const s = await startTestService(t, { BACKEND_HOSTS_FILE: hosts, BACKEND_NAME_TTL_MS: "1000" });
  await post(s, "site.example", "app.test:8080");
  t.like((await s.internal("/resolve/site.example")).json(), { backend: "app.test:8080", addresses: ["127.0.0.2:8080"] });
  writeFileSync(hosts, "127.0.0.3 app.test\n::1 app.test\n");
  await new Promise((r) => setTimeout(r, 1100));
  t.like((await s.internal("/resolve/site.example")).json(), { addresses: ["127.0.0.3:8080", "[::1]:8080"] });
});

test("/resolve answers a name that does not resolve with no addresses and the reason", async (t) => {
  const s = await startTestService(t);
  await post(s, "broken.example", "nothing.invalid:80");
  const reply = await s.internal("/resolve/broken.example");
  t.is(reply.status, 200, "the route exists; only its backend's name fails");
  t.deepEqual(reply.json().addresses, []);
  t.regex(reply.json().error, /^nothing\.invalid does not resolve \(/);
});

test("/resolve refuses a host that is not a DNS name with 400", async (t) => {
  const s = await startTestService(t);
  await post(s, "*", "localhost:3000");
  for (const bad of ["a%20b.com", "%00x.com", "a_b.com", "*.example.com", "x".repeat(300)]) {
    const reply = await s.internal(`/resolve/${bad}`);
    t.is(reply.status, 400, bad);
    t.is(reply.json().error, "invalid_host");
  }
});

test("the public listener never exposes /resolve or /changes, with or without the token", async (t) => {
  const s = await startTestService(t);
  await post(s, "a.example.com", "localhost:3000");
  for (const path of ["/resolve/a.example.com", "/changes?since=0"]) {
    t.is((await s.api(path)).status, 404, path);
    t.is((await s.api(path, { auth: false })).status, 404, path);
  }
  // ...and the internal listener has no management API.
  t.is((await s.internal("/entries.json")).status, 404);
});

test("the changes feed lists puts and deletes in order with growing sequence numbers", async (t) => {
  const s = await startTestService(t);
  await post(s, "a.example.com", "localhost:1");
  await post(s, "*.example.com", "localhost:2");
  await post(s, "a.example.com", "localhost:1"); // unchanged: no change record
  await s.api("/entries/a.example.com.json", { method: "DELETE" });
  const page = (await s.internal("/changes?since=0")).json();
  t.deepEqual(page, {
    seq: 3,
    changes: [
      { seq: 1, op: "put", host: "a.example.com" },
      { seq: 2, op: "put", host: "*.example.com" },
      { seq: 3, op: "delete", host: "a.example.com" },
    ],
  });
  t.deepEqual((await s.internal("/changes?since=2")).json().changes, [{ seq: 3, op: "delete", host: "a.example.com" }]);
  t.deepEqual((await s.internal("/changes?since=3")).json(), { seq: 3, changes: [] });
});

test("a long-poll answers as soon as a change lands", async (t) => {
  const s = await startTestService(t);
  await post(s, "a.example.com", "localhost:1");
  // 30 s cap: if the wake-up were missing, this test would hit ava's timeout.
  const waiting = s.internal("/changes?since=1&wait=30000");
  await new Promise((r) => setTimeout(r, 100));
  await post(s, "b.example.com", "localhost:2");
  t.deepEqual((await waiting).json(), { seq: 2, changes: [{ seq: 2, op: "put", host: "b.example.com" }] });
});

test("a long-poll with nothing new answers an empty page when its wait ends", async (t) => {
  const s = await startTestService(t);
  await post(s, "a.example.com", "localhost:1");
  t.deepEqual((await s.internal("/changes?since=1&wait=50")).json(), { seq: 1, changes: [] });
});

test("a follower behind the retained log, or ahead of it, gets a reset", async (t) => {
  const s = await startTestService(t, { CHANGES_RETAIN: "3" });
  for (let i = 0; i < 5; i++) await post(s, `h${i}.example.com`, "localhost:1");
  t.deepEqual((await s.internal("/changes?since=0")).json(), { seq: 5, reset: true });
  t.deepEqual((await s.internal("/changes?since=1")).json(), { seq: 5, reset: true });
  t.deepEqual((await s.internal("/changes?since=2")).json().changes.map((c: { seq: number }) => c.seq), [3, 4, 5]);
  t.deepEqual((await s.internal("/changes?since=99")).json(), { seq: 5, reset: true });
  // A fresh follower asks from beyond any seq to start at the head (wasm/src/resolver/lease.ts, SEQ_UNKNOWN).
  t.deepEqual((await s.internal(`/changes?since=${Number.MAX_SAFE_INTEGER}`)).json(), { seq: 5, reset: true });
});

test("sequence numbers keep growing across a restart", async (t) => {
  const s = await startTestService(t);
  await post(s, "a.example.com", "localhost:1");
  await post(s, "b.example.com", "localhost:1");
  await s.restart();
  await post(s, "c.example.com", "localhost:1");
  t.deepEqual((await s.internal("/changes?since=2")).json(), { seq: 3, changes: [{ seq: 3, op: "put", host: "c.example.com" }] });
});

test("bad /changes queries are refused", async (t) => {
  const s = await startTestService(t);
  for (const query of ["", "?since=-1", "?since=abc", "?since=1&wait=-5", "?since=1&x=2"]) {
    const reply = await s.internal(`/changes${query}`);
    t.is(reply.status, 400, query);
  }
});

test("the internal socket is owner and group only", async (t) => {
  const s = await startTestService(t);
  t.is(statSync(s.socket).mode & 0o777, 0o660);
});

// Connecting as another user needs root to switch users; CI runs as root.
const asRoot = process.getuid?.() === 0 ? test : test.skip;

asRoot("nginx's worker group can connect to the internal socket, other users cannot", async (t) => {
  const { execFileSync } = await import("node:child_process");
  const { lookupGroup } = await import("../src/config.ts");
  const workerGroup = lookupGroup("www-data");
  if (workerGroup === undefined) return t.fail("no www-data group on this machine");
  const s = await startTestService(t);
  t.is(statSync(s.socket).gid, workerGroup);
  const tryConnect = (gid: number) => {
    const script = `require("net").createConnection(${JSON.stringify(s.socket)}).on("connect",()=>{console.log("connected");process.exit(0)}).on("error",e=>{console.log(e.code);process.exit(0)})`;
    return execFileSync("setpriv", ["--reuid=65534", `--regid=${gid}`, "--clear-groups", process.execPath, "-e", script], { encoding: "utf8" }).trim();
  };
  t.is(tryConnect(65534), "EACCES");
  t.is(tryConnect(workerGroup), "connected");
});
