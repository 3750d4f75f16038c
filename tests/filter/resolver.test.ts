// Behaviour of build/resolver.wasm in the real proxy-wasm host (host/ on
// wasmtime, through host/node). Route API answers are delivered by hand; the
// clock is fixed per test so TTLs are exact. Several FilterHosts on one
// SharedData stand for nginx workers sharing the shm zone.
// Build first: npx asc --config asconfig.json --target release; host/node built.
import test from "ava";
import {
  FilterHost, SharedData, T0, changesAnswer, errorAnswer, header, nameAnswer, onlyCall, outcomeOf, request, resolveAnswer, wasm, worker,
} from "./_harness.ts";

const ROOT = 1;

test("a miss asks the route API once, then the cache answers", (t) => {
  const shared = new SharedData();
  const w = worker(shared);
  const first = request(w, "A.Example.COM.:8080");
  t.is(first.action, "pause");
  const call = onlyCall(first);
  t.is(call.upstream, "route_api");
  t.is(header(call.headers, ":path"), "/resolve/a.example.com");
  t.is(header(call.headers, ":method"), "GET");
  t.is(call.timeoutMs, 1000);

  const delivered = w.deliverHttpCallResponse(call.token, resolveAnswer("a.example.com", "10.0.0.7:3000"));
  const resumed = outcomeOf(delivered, first.id);
  t.is(resumed?.action, "continue");
  t.is(resumed?.properties.backend, "10.0.0.7:3000");

  const hit = request(w, "a.example.com");
  t.is(hit.action, "continue");
  t.is(hit.properties.backend, "10.0.0.7:3000");
  t.deepEqual(hit.httpCalls, []);
  t.truthy(shared.get("sb:h:a.example.com"), "the answer is in shared data");
});

test("another worker on the same shared data hits without a call", (t) => {
  const shared = new SharedData();
  const a = worker(shared);
  const b = worker(shared);
  const miss = request(a, "shop.example.com");
  a.deliverHttpCallResponse(onlyCall(miss).token, resolveAnswer("shop.example.com", "unix:/run/shop.sock"));
  const hit = request(b, "shop.example.com");
  t.is(hit.action, "continue");
  t.is(hit.properties.backend, "unix:/run/shop.sock");
  t.deepEqual(hit.httpCalls, []);
});

test("concurrent misses for one host make one call; every waiter resumes", (t) => {
  const w = worker(new SharedData());
  const r1 = request(w, "busy.example.com");
  const r2 = request(w, "busy.example.com");
  const r3 = request(w, "BUSY.example.com:443");
  t.is(r1.httpCalls.length, 1);
  t.deepEqual(r2.httpCalls, []);
  t.deepEqual(r3.httpCalls, []);
  t.is(r2.action, "pause");

  // The first request goes away before the answer: the others still get it.
  w.finishRequest(r1.id);
  const delivered = w.deliverHttpCallResponse(onlyCall(r1).token, resolveAnswer("busy.example.com", "10.1.1.1:80"));
  for (const r of [r2, r3]) {
    const o = outcomeOf(delivered, r.id);
    t.is(o?.action, "continue", `request ${r.id} resumed`);
    t.is(o?.properties.backend, "10.1.1.1:80");
  }
  t.is(outcomeOf(delivered, r1.id), undefined, "the finished request is left alone");
});

test("an unknown host gets the 404 page, cached for the negative TTL", (t) => {
  const w = worker(new SharedData(), { negative_ttl_ms: 2000 });
  const miss = request(w, "nobody.example.com");
  const delivered = w.deliverHttpCallResponse(onlyCall(miss).token, errorAnswer(404, "nobody.example.com"));
  const page = outcomeOf(delivered, miss.id)?.localResponse;
  t.is(page?.status, 404);
  t.true(page?.body.includes("nobody.example.com"));
  t.is(header(page?.headers ?? [], "content-type"), "text/html; charset=utf-8");

  w.setTimeMs(T0 + 1999);
  const cached = request(w, "nobody.example.com");
  t.is(cached.action, "local_response");
  t.is(cached.localResponse?.status, 404);
  t.deepEqual(cached.httpCalls, []);

  w.setTimeMs(T0 + 2000);
  const again = request(w, "nobody.example.com");
  t.is(again.action, "pause");
  t.is(again.httpCalls.length, 1, "asked again once the negative entry expired");
});

test("with the route API failing, a known host keeps its stale backend; an unknown one gets 503", (t) => {
  const w = worker(new SharedData(), { positive_ttl_ms: 30000, error_ttl_ms: 2000 });
  const miss = request(w, "old.example.com");
  w.deliverHttpCallResponse(onlyCall(miss).token, resolveAnswer("old.example.com", "10.2.2.2:8080"));

  w.setTimeMs(T0 + 31_000);
  const expired = request(w, "old.example.com");
  t.is(expired.action, "pause");
  const failed = w.deliverHttpCallResponse(onlyCall(expired).token, null);
  const stale = outcomeOf(failed, expired.id);
  t.is(stale?.action, "continue");
  t.is(stale?.properties.backend, "10.2.2.2:8080");

  // Within error_ttl the stale answer stands without another call.
  w.setTimeMs(T0 + 32_000);
  const during = request(w, "old.example.com");
  t.is(during.properties.backend, "10.2.2.2:8080");
  t.deepEqual(during.httpCalls, []);

  // A 5xx is a failure too; a host with no history gets the 503 page.
  const unknown = request(w, "new.example.com");
  const down = w.deliverHttpCallResponse(onlyCall(unknown).token, { status: 502, body: "bad gateway" });
  const page = outcomeOf(down, unknown.id)?.localResponse;
  t.is(page?.status, 503);
  t.true(page?.body.includes("new.example.com"));
  t.true(outcomeOf(down, ROOT)?.logs.some((l) => l.message.includes("/resolve/new.example.com failed (status 502)")) ?? false);
});

test("a host the route API refuses (400) gets the 404 page, not a 503", (t) => {
  const w = worker(new SharedData());
  const miss = request(w, "refused.example.com");
  const out = w.deliverHttpCallResponse(onlyCall(miss).token, errorAnswer(400, "refused.example.com"));
  t.is(outcomeOf(out, miss.id)?.localResponse?.status, 404);
  const limited = request(w, "limited.example.com");
  const busy = w.deliverHttpCallResponse(onlyCall(limited).token, { status: 429 });
  t.is(outcomeOf(busy, limited.id)?.localResponse?.status, 503, "rate limiting is an outage, not an answer");
});

test("an answer without a valid backend is a failure, not a cache entry", (t) => {
  const w = worker(new SharedData());
  const miss = request(w, "weird.example.com");
  const out = w.deliverHttpCallResponse(onlyCall(miss).token, { status: 200, body: '{"backend":"evil/path?x:80"}' });
  t.is(outcomeOf(out, miss.id)?.localResponse?.status, 503);
});

test("error pages come from the configuration, with the host escaped", (t) => {
  const w = worker(new SharedData(), { not_found_page: "<p>No {host} here &amp; {host}</p>" });
  const miss = request(w, "x-y.example.com");
  const out = w.deliverHttpCallResponse(onlyCall(miss).token, errorAnswer(404));
  t.is(outcomeOf(out, miss.id)?.localResponse?.body, "<p>No x-y.example.com here &amp; x-y.example.com</p>");
});

test("a Host that is not a DNS name gets a 400 and changes nothing", (t) => {
  const shared = new SharedData();
  const w = worker(shared);
  const sizeBefore = shared.size;
  for (const bad of ["bad host", "<script>.example.com", "a..b", "[::1]:80", "x".repeat(300), "example.com:99999"]) {
    const out = request(w, bad);
    t.is(out.action, "local_response", bad);
    t.is(out.localResponse?.status, 400, bad);
    t.false(out.localResponse?.body.includes("<script>") ?? true, "the bad host is not echoed");
    t.deepEqual(out.httpCalls, []);
  }
  t.is(shared.size, sizeBefore);
});

test("a bad configuration refuses to start", (t) => {
  // The log line naming the problem is checked by the as-pect config tests; the
  // binding does not return start-up logs.
  const shared = new SharedData();
  for (const config of ['{"positive_ttl_ms": -1}', '{"resolver_clustr": "x"}', "{not json", '{"tick_ms": 1000, "lease_ttl_ms": 1000}']) {
    t.throws(() => new FilterHost(wasm, { pluginConfig: config, shared }), { message: /proxy_on_configure returned false/ }, config);
  }
  t.notThrows(() => new FilterHost(wasm, { pluginConfig: "", shared }));
  t.notThrows(() => new FilterHost(wasm, { pluginConfig: '{"resolver_cluster": "route_api", "tick_ms": 250}', shared }));
});

test("the change feed: one follower long-polls and expires changed hosts on every worker", (t) => {
  const shared = new SharedData();
  const a = worker(shared, { poll_wait_ms: 20000 });
  const b = worker(shared, { poll_wait_ms: 20000 });
  t.is(a.tickPeriodMs, 100);

  const poll = onlyCall(a.tick());
  t.is(header(poll.headers, ":path"), "/changes?since=9007199254740991&wait=20000", "a fresh feed starts at the log's head");
  t.is(poll.timeoutMs, 21000);
  t.deepEqual(b.tick().httpCalls, [], "only the lease holder polls");
  const atHead = a.deliverHttpCallResponse(poll.token, { status: 200, body: '{"seq":5,"reset":true}' });
  const follow = onlyCall(outcomeOf(atHead, ROOT)!);
  t.is(header(follow.headers, ":path"), "/changes?since=5&wait=20000", "then follows from the head's seq, replaying nothing");
  b.tick(); // the reset's epoch reaches worker b at its next tick

  const miss = request(a, "moved.example.com");
  a.deliverHttpCallResponse(onlyCall(miss).token, resolveAnswer("moved.example.com", "10.0.0.1:80"));
  t.is(request(b, "moved.example.com").properties.backend, "10.0.0.1:80");

  const applied = a.deliverHttpCallResponse(follow.token, changesAnswer(7, ["moved.example.com"]));
  const next = onlyCall(outcomeOf(applied, ROOT)!);
  t.is(header(next.headers, ":path"), "/changes?since=7&wait=20000", "polls again from the new seq at once");

  const after = request(b, "moved.example.com");
  t.is(after.action, "pause", "worker b no longer serves the old backend");
  const fresh = b.deliverHttpCallResponse(onlyCall(after).token, resolveAnswer("moved.example.com", "10.0.0.2:80"));
  t.is(outcomeOf(fresh, after.id)?.properties.backend, "10.0.0.2:80");
});

test("a wildcard or catch-all change, or a reset, re-resolves every host", (t) => {
  for (const answer of [changesAnswer(3, ["*.example.com"]), changesAnswer(3, ["*"]), { status: 200, body: '{"seq":3,"reset":true}' }]) {
    const shared = new SharedData();
    const a = worker(shared);
    const b = worker(shared);
    const miss = request(b, "w.example.com");
    b.deliverHttpCallResponse(onlyCall(miss).token, resolveAnswer("w.example.com", "10.9.9.9:80"));
    const poll = onlyCall(a.tick());
    a.deliverHttpCallResponse(poll.token, answer);
    b.tick(); // b's view of the cache epoch is refreshed on its tick
    const after = request(b, "w.example.com");
    t.is(after.action, "pause", `after ${answer.body}`);
    t.is(after.httpCalls.length, 1);
  }
});

test("an answer that may predate a change is used once but not cached", (t) => {
  const shared = new SharedData();
  const a = worker(shared);
  const poll = onlyCall(a.tick());
  const miss = request(a, "race.example.com");
  // The change lands while the /resolve call is in flight.
  a.deliverHttpCallResponse(poll.token, changesAnswer(1, ["race.example.com"]));
  const late = a.deliverHttpCallResponse(onlyCall(miss).token, resolveAnswer("race.example.com", "10.0.0.3:80"));
  t.is(outcomeOf(late, miss.id)?.properties.backend, "10.0.0.3:80");
  const again = request(a, "race.example.com");
  t.is(again.action, "pause", "the possibly stale answer was not cached");
});

test("another worker takes the feed over when the follower stops, from the same seq", (t) => {
  const shared = new SharedData();
  const a = worker(shared, { lease_ttl_ms: 3000 });
  const b = worker(shared, { lease_ttl_ms: 3000 });
  const miss = request(b, "kept.example.com");
  b.deliverHttpCallResponse(onlyCall(miss).token, resolveAnswer("kept.example.com", "10.0.0.4:80"));

  const poll = onlyCall(a.tick());
  const applied = a.deliverHttpCallResponse(poll.token, changesAnswer(41, ["x.example.com"]));
  const stalled = onlyCall(outcomeOf(applied, ROOT)!); // a's next poll, never answered in time
  t.deepEqual(b.tick().httpCalls, []);

  // a stops ticking (its worker hangs or dies); the lease runs out.
  b.setTimeMs(T0 + 2999);
  t.deepEqual(b.tick().httpCalls, [], "not before the lease expires");
  b.setTimeMs(T0 + 3000);
  const takeover = onlyCall(b.tick());
  t.is(header(takeover.headers, ":path"), "/changes?since=41&wait=25000");

  // a's late answer is dropped: b owns the feed and will fetch seq 42 itself.
  a.setTimeMs(T0 + 3001);
  const late = a.deliverHttpCallResponse(stalled.token, changesAnswer(42, ["kept.example.com"]));
  t.deepEqual(outcomeOf(late, ROOT)?.httpCalls ?? [], [], "the old follower stops polling");
  const still = request(b, "kept.example.com");
  t.is(still.action, "continue");
  t.is(still.properties.backend, "10.0.0.4:80");
});

test("a failed poll is retried after poll_retry_ms, not in a loop", (t) => {
  const w = worker(new SharedData(), { poll_retry_ms: 1000 });
  const poll = onlyCall(w.tick());
  const failed = w.deliverHttpCallResponse(poll.token, { status: 500, body: "" });
  t.deepEqual(outcomeOf(failed, ROOT)?.httpCalls ?? [], []);
  w.setTimeMs(T0 + 999);
  t.deepEqual(w.tick().httpCalls, []);
  w.setTimeMs(T0 + 1000);
  t.is(w.tick().httpCalls.length, 1);
});

test("a backend given by name: its addresses become the backend, cached no longer than their TTL", (t) => {
  const w = worker(new SharedData());
  const miss = request(w, "named.example.com");
  const answer = nameAnswer("named.example.com", "localhost:3000", ["127.0.0.1:3000", "[::1]:3000"], 5_000);
  const resumed = outcomeOf(w.deliverHttpCallResponse(onlyCall(miss).token, answer), miss.id);
  t.is(resumed?.action, "continue");
  t.is(resumed?.properties.backend, "127.0.0.1:3000,[::1]:3000", "every address, in order, for the balancer");

  w.setTimeMs(T0 + 4_999);
  const hit = request(w, "named.example.com");
  t.is(hit.properties.backend, "127.0.0.1:3000,[::1]:3000");
  t.deepEqual(hit.httpCalls, []);
  // The name's TTL (5 s) ends the entry before positive_ttl_ms (30 s) would.
  w.setTimeMs(T0 + 5_000);
  t.is(onlyCall(request(w, "named.example.com")).upstream, "route_api");
});

test("a backend name that does not resolve: a 502 page, one warning naming host and backend, cached", (t) => {
  const w = worker(new SharedData());
  const miss = request(w, "broken.example.com", [["accept", "application/json"]]);
  const answer = nameAnswer("broken.example.com", "nothing.invalid:80", [], 5_000, "nothing.invalid does not resolve (ENOTFOUND)");
  const delivered = w.deliverHttpCallResponse(onlyCall(miss).token, answer);
  const page = outcomeOf(delivered, miss.id)?.localResponse;
  t.is(page?.status, 502);
  t.like(JSON.parse(page?.body ?? "{}"), { error: "bad_gateway", status: 502, host: "broken.example.com" });
  const warnings = delivered.flatMap((o) => o.logs).filter((l) => l.message.includes("does not resolve"));
  t.is(warnings.length, 1);
  t.regex(warnings[0]!.message, /broken\.example\.com.*nothing\.invalid:80/);

  const again = request(w, "broken.example.com");
  t.is(again.localResponse?.status, 502, "served from the cache");
  t.deepEqual(again.httpCalls, []);
  t.deepEqual(again.logs, [], "no log line per request");
});

test("addresses that are names, or a backend outside the grammar, are an API failure: nothing routed there", (t) => {
  const w = worker(new SharedData());
  const miss = request(w, "odd.example.com");
  const answer = nameAnswer("odd.example.com", "app.internal:80", ["evil.example:80"], 5_000);
  const out = outcomeOf(w.deliverHttpCallResponse(onlyCall(miss).token, answer), miss.id);
  t.is(out?.localResponse?.status, 503);
  t.is(out?.properties.backend, undefined);
});

test("the filter counts lookups, their duration and stale answers as proxy-wasm metrics", (t) => {
  const w = worker(new SharedData());
  const found = request(w, "a.example.com");
  w.setTimeMs(T0 + 7);
  w.deliverHttpCallResponse(onlyCall(found).token, resolveAnswer("a.example.com", "10.0.0.1:80"));
  const unknown = request(w, "unknown.example.com");
  w.deliverHttpCallResponse(onlyCall(unknown).token, errorAnswer(404));
  const broken = request(w, "broken.example.com");
  w.deliverHttpCallResponse(onlyCall(broken).token, nameAnswer("broken.example.com", "x.invalid:80", [], 1000, "no"));
  // The entry expires and the route API fails: the stale backend is served, and counted.
  w.setTimeMs(T0 + 31_000);
  const expired = request(w, "a.example.com");
  const stale = outcomeOf(w.deliverHttpCallResponse(onlyCall(expired).token, null), expired.id);
  t.is(stale?.properties.backend, "10.0.0.1:80");

  const values = Object.fromEntries(w.metrics().map((m) => [m.name, m]));
  t.like(values, {
    lookups_found_total: { kind: "counter", value: 1 },
    lookups_not_found_total: { kind: "counter", value: 1 },
    lookups_unresolvable_total: { kind: "counter", value: 1 },
    lookups_failed_total: { kind: "counter", value: 1 },
    stale_served_total: { kind: "counter", value: 1 },
    lookup_duration_ms: { kind: "histogram" },
    feed_seq: { kind: "gauge" },
  });
  t.is(request(w, "a.example.com").properties.backend, "10.0.0.1:80", "a hit of the stale entry is no new stale answer");
  t.is(Object.fromEntries(w.metrics().map((m) => [m.name, m.value])).stale_served_total, 1);
});

/**
 * Keeps `a` following the feed from T0 to `until` (1 s ticks on both workers),
 * answering each long poll with "nothing changed" within 10 s, as the route API
 * does; returns the poll left in flight.
 */
function followQuietly(a: FilterHost, b: FilterHost, from: number, until: number, poll: { token: number }): { token: number } {
  let current = poll;
  for (let now = from; now <= until; now += 1000) {
    a.setTimeMs(now);
    b.setTimeMs(now);
    if ((now - from) % 10_000 === 5_000) a.deliverHttpCallResponse(current.token, changesAnswer(5, []));
    const ticked = a.tick();
    if (ticked.httpCalls.length > 0) current = onlyCall(ticked);
    b.tick();
  }
  return current;
}

test("with the change feed healthy a route stays cached for feed_ttl_ms; a change or a failing feed still moves it", (t) => {
  const shared = new SharedData();
  const a = worker(shared, { positive_ttl_ms: 30_000, feed_ttl_ms: 3_600_000, poll_wait_ms: 20_000 });
  const b = worker(shared, { positive_ttl_ms: 30_000, feed_ttl_ms: 3_600_000, poll_wait_ms: 20_000 });
  const first = onlyCall(a.tick());
  const follow = onlyCall(outcomeOf(a.deliverHttpCallResponse(first.token, { status: 200, body: '{"seq":5,"reset":true}' }), ROOT)!);
  a.tick();
  b.tick(); // both workers now see a healthy feed in the lease

  for (const host of ["long.example.com", "moved.example.com"]) {
    const miss = request(b, host);
    b.deliverHttpCallResponse(onlyCall(miss).token, resolveAnswer(host, "10.0.0.5:80"));
  }
  t.is(new Uint8Array(shared.get("sb:h:long.example.com")!.value)[1], 1, "written as held by the feed");

  let poll = followQuietly(a, b, T0, T0 + 60_000, follow);
  const hit = request(b, "long.example.com");
  t.is(hit.action, "continue", "still cached twice positive_ttl_ms later");
  t.deepEqual(hit.httpCalls, []);

  // A change still reaches the cache at once.
  const applied = a.deliverHttpCallResponse(poll.token, changesAnswer(6, ["moved.example.com"]));
  poll = onlyCall(outcomeOf(applied, ROOT)!);
  t.is(request(b, "moved.example.com").action, "pause", "the feed invalidated the long-lived entry");

  // The feed fails: once the lease says so, entries fall back to positive_ttl_ms from their lookup.
  a.deliverHttpCallResponse(poll.token, { status: 500, body: "" });
  a.setTimeMs(T0 + 60_100);
  b.setTimeMs(T0 + 60_100);
  a.tick(); // publishes the failure in the lease
  b.tick();
  const refreshed = request(b, "long.example.com");
  t.is(refreshed.action, "pause", "asks the route API again while the feed cannot invalidate");
  b.deliverHttpCallResponse(onlyCall(refreshed).token, resolveAnswer("long.example.com", "10.0.0.5:80"));
  t.is(new Uint8Array(shared.get("sb:h:long.example.com")!.value)[1], 0, "cached for positive_ttl_ms only");
});

test("without a feed (or before it answered), routes are cached for positive_ttl_ms", (t) => {
  const shared = new SharedData();
  const w = worker(shared, { positive_ttl_ms: 30_000, feed_ttl_ms: 3_600_000 });
  w.tick(); // its poll is never answered
  const miss = request(w, "short.example.com");
  w.deliverHttpCallResponse(onlyCall(miss).token, resolveAnswer("short.example.com", "10.0.0.6:80"));
  w.setTimeMs(T0 + 29_999);
  t.is(request(w, "short.example.com").action, "continue");
  w.setTimeMs(T0 + 30_000);
  t.is(request(w, "short.example.com").action, "pause");
});
