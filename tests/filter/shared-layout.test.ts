// The shared data as wasm/README.md ("Shared data layout") describes it — the one
// description of those bytes — read back from what the built filter writes in the
// real host. Integers are little-endian.
import test from "ava";
import { SharedData, T0, errorAnswer, nameAnswer, onlyCall, request, resolveAnswer, worker } from "./_harness.ts";

const SEQ_UNKNOWN = 2n ** 53n - 1n;

/** The value under `key`, which must exist. */
function valueOf(shared: SharedData, key: string): Buffer {
  const stored = shared.get(key);
  if (!stored) throw new Error(`no ${key} in shared data`);
  return stored.value;
}

/** An `sb:h:<host>` entry: u8 kind, u8 flags, 2 zero bytes, u32 epoch, u64 expiresAt, u64 fetchedAt, then the UTF-8 text. */
function entry(value: Buffer) {
  return {
    kind: value.readUInt8(0),
    flags: value.readUInt8(1),
    padding: [...value.subarray(2, 4)],
    epoch: value.readUInt32LE(4),
    expiresAt: Number(value.readBigUInt64LE(8)),
    fetchedAt: Number(value.readBigUInt64LE(16)),
    text: value.subarray(24).toString("utf8"),
  };
}

test("sb:wid is a u32 counter and the u32 nonce of its last writer", (t) => {
  const shared = new SharedData();
  worker(shared);
  worker(shared);
  const wid = valueOf(shared, "sb:wid");
  t.is(wid.length, 8);
  t.is(wid.readUInt32LE(0), 2, "two workers took a number");
});

test("sb:lease is u32 owner, u32 flags, u64 expiresAt, u64 seq; sb:epoch is a u32", (t) => {
  const shared = new SharedData();
  const w = worker(shared, { lease_ttl_ms: 3000 });
  const poll = onlyCall(w.tick());
  let lease = valueOf(shared, "sb:lease");
  t.is(lease.length, 24);
  const owner = lease.readUInt32LE(0);
  t.true(owner >= 1, "a worker id; 0 is nobody");
  t.is(lease.readUInt32LE(4), 0, "flags: the feed is not healthy before its first answer");
  t.is(Number(lease.readBigUInt64LE(8)), T0 + 3000, "expires a lease TTL from now");
  t.is(lease.readBigUInt64LE(16), SEQ_UNKNOWN, "a fresh zone has no seq yet");

  const epochValue = valueOf(shared, "sb:epoch");
  t.is(epochValue.length, 4);
  const epoch = epochValue.readUInt32LE(0);
  // The first epoch is the seconds since 1970 when the first worker started (the real clock: it starts before the test fixes it).
  t.true(Math.abs(epoch - Date.now() / 1000) < 600, `epoch ${epoch}`);
  w.deliverHttpCallResponse(poll.token, { status: 200, body: '{"seq":5,"reset":true}' });
  lease = valueOf(shared, "sb:lease");
  t.is(lease.readUInt32LE(0), owner);
  t.is(lease.readUInt32LE(4), 1, "flags: the feed answered well");
  t.is(lease.readBigUInt64LE(16), 5n, "the seq applied");
  t.is(valueOf(shared, "sb:epoch").readUInt32LE(0), epoch + 1, "a reset bumps the epoch");
});

test("sb:h:<host> is u8 kind, u8 flags, 2 zero bytes, u32 epoch, u64 expiresAt, u64 fetchedAt, then the addresses or the name", (t) => {
  const shared = new SharedData();
  const w = worker(shared, { positive_ttl_ms: 30_000, negative_ttl_ms: 2_000 });
  const epoch = valueOf(shared, "sb:epoch").readUInt32LE(0);

  const miss = request(w, "a.example.com");
  t.like(entry(valueOf(shared, "sb:h:a.example.com")), { kind: 0, flags: 0, padding: [0, 0], text: "" }, "pending while the lookup runs");
  w.deliverHttpCallResponse(onlyCall(miss).token, nameAnswer("a.example.com", "app.test:80", ["10.0.0.7:80", "[::1]:80"], 60_000));
  t.deepEqual(entry(valueOf(shared, "sb:h:a.example.com")), {
    kind: 1, flags: 0, padding: [0, 0], epoch, expiresAt: T0 + 30_000, fetchedAt: T0, text: "10.0.0.7:80,[::1]:80",
  }, "found: the addresses, comma-separated");

  const nobody = request(w, "nobody.example.com");
  w.deliverHttpCallResponse(onlyCall(nobody).token, errorAnswer(404));
  t.like(entry(valueOf(shared, "sb:h:nobody.example.com")), { kind: 2, epoch, expiresAt: T0 + 2_000, text: "" }, "not found");

  const broken = request(w, "broken.example.com");
  w.deliverHttpCallResponse(onlyCall(broken).token, nameAnswer("broken.example.com", "nothing.invalid:80", [], 5_000, "does not resolve"));
  t.like(entry(valueOf(shared, "sb:h:broken.example.com")), { kind: 4, epoch, text: "nothing.invalid:80" }, "unresolvable: the name");

  const down = request(w, "down.example.com");
  w.deliverHttpCallResponse(onlyCall(down).token, { status: 500 });
  t.like(entry(valueOf(shared, "sb:h:down.example.com")), { kind: 3, epoch, text: "" }, "unavailable, with no stale backend");

  // Once the feed is healthy, a found route is held by it: flag 1, cached for feed_ttl_ms.
  const poll = onlyCall(w.tick());
  w.deliverHttpCallResponse(poll.token, { status: 200, body: '{"seq":5,"reset":true}' });
  w.tick();
  const epochNow = valueOf(shared, "sb:epoch").readUInt32LE(0);
  const held = request(w, "held.example.com");
  w.deliverHttpCallResponse(onlyCall(held).token, resolveAnswer("held.example.com", "10.0.0.9:80"));
  t.like(entry(valueOf(shared, "sb:h:held.example.com")), { kind: 1, flags: 1, epoch: epochNow, expiresAt: T0 + 21_600_000, text: "10.0.0.9:80" });

});
