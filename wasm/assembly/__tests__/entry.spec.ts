import { CacheEntry, EntryKind, EntryFlags, decodeEntry, freshKindAt, ENTRY_HEADER } from "../../src/resolver/entry";
import { Lease, decodeLease, LEASE_SIZE, LEASE_FEED_HEALTHY } from "../../src/resolver/lease";

describe("cache entry encoding", () => {
  it("round-trips every field", () => {
    const e = new CacheEntry(EntryKind.Found, 7, 1_700_000_030_000, 1_700_000_000_000, "10.0.0.7:3000");
    const buf = e.encode();
    expect(buf.byteLength).toBe(ENTRY_HEADER + 13);
    const d = decodeEntry(buf)!;
    expect(d.kind).toBe(EntryKind.Found);
    expect(d.epoch).toBe(7);
    expect(d.expiresAt).toBe(1_700_000_030_000);
    expect(d.fetchedAt).toBe(1_700_000_000_000);
    expect(d.backend).toBe("10.0.0.7:3000");
    expect(d.flags).toBe(0);
    const held = decodeEntry(new CacheEntry(EntryKind.Found, 7, 9, 8, "a:1", EntryFlags.HeldByFeed).encode())!;
    expect(held.flags).toBe(EntryFlags.HeldByFeed);
    expect(Uint8Array.wrap(held.encode())[1]).toBe(EntryFlags.HeldByFeed);
  });

  // The layout of wasm/README.md ("Shared data layout"), byte by byte.
  it("lays out the entry as wasm/README.md describes", () => {
    const buf = new CacheEntry(EntryKind.NotFound, 0x01020304, 0x0a0b, 0x0c0d, "x:1", EntryFlags.HeldByFeed).encode();
    const bytes = Uint8Array.wrap(buf);
    expect(ENTRY_HEADER).toBe(24);
    expect(bytes.length).toBe(27);
    expect(bytes[0]).toBe(2); // u8 kind
    expect(bytes[1]).toBe(EntryFlags.HeldByFeed); // u8 flags
    expect(bytes[2] | bytes[3]).toBe(0); // 2 zero bytes
    expect(bytes[4]).toBe(4); // u32 epoch, little-endian
    expect(bytes[7]).toBe(1);
    expect(bytes[8]).toBe(0x0b); // u64 expiresAt
    expect(bytes[9]).toBe(0x0a);
    expect(bytes[16]).toBe(0x0d); // u64 fetchedAt
    expect(bytes[17]).toBe(0x0c);
    expect(bytes[24]).toBe(0x78); // then the text: "x:1"
  });

  it("refuses values it did not write", () => {
    expect(decodeEntry(new ArrayBuffer(3))).toBeNull();
    const bad = new CacheEntry(EntryKind.Found, 1, 2, 3, "x:1").encode();
    store<u8>(changetype<usize>(bad), 9);
    expect(decodeEntry(bad)).toBeNull();
    const padded = new CacheEntry(EntryKind.Found, 1, 2, 3, "x:1").encode();
    store<u8>(changetype<usize>(padded), 1, 2);
    expect(decodeEntry(padded)).toBeNull();
    const unknownFlag = new CacheEntry(EntryKind.Found, 1, 2, 3, "x:1").encode();
    store<u8>(changetype<usize>(unknownFlag), 2, 1);
    expect(decodeEntry(unknownFlag)).toBeNull();
  });

  it("is fresh only before expiry, in its epoch, and when not pending", () => {
    const e = new CacheEntry(EntryKind.Found, 3, 1000, 0, "a:1");
    expect(e.isFresh(999, 3)).toBe(true);
    expect(e.isFresh(1000, 3)).toBe(false);
    expect(e.isFresh(999, 4)).toBe(false);
    const pending = new CacheEntry(EntryKind.Pending, 3, 1000, 0, "");
    expect(pending.isFresh(1, 3)).toBe(false);
  });

  it("reads freshness in place, as the cache-hit path does", () => {
    const buf = new CacheEntry(EntryKind.Found, 3, 1000, 0, "a:1").encode();
    const p = changetype<usize>(buf);
    const n = <usize>buf.byteLength;
    expect(freshKindAt(p, n, 999, 3)).toBe(EntryKind.Found);
    expect(freshKindAt(p, n, 1000, 3)).toBe(-1);
    expect(freshKindAt(p, n, 999, 2)).toBe(-1);
    expect(freshKindAt(p, 10, 999, 3)).toBe(-1);
    const neg = new CacheEntry(EntryKind.NotFound, 3, 1000, 0, "").encode();
    expect(freshKindAt(changetype<usize>(neg), <usize>neg.byteLength, 1, 3)).toBe(EntryKind.NotFound);
    const pending = new CacheEntry(EntryKind.Pending, 3, 1000, 0, "").encode();
    expect(freshKindAt(changetype<usize>(pending), <usize>pending.byteLength, 1, 3)).toBe(-1);
  });

  it("offers a stale backend within max stale, never for 404s", () => {
    const e = new CacheEntry(EntryKind.Found, 0, 100, 100, "a:1");
    expect(e.hasStaleBackend(5_000, 10_000)).toBe(true);
    expect(e.hasStaleBackend(10_101, 10_000)).toBe(false);
    const unavailable = new CacheEntry(EntryKind.Unavailable, 0, 100, 100, "a:1");
    expect(unavailable.hasStaleBackend(200, 10_000)).toBe(true);
    const nothing = new CacheEntry(EntryKind.Unavailable, 0, 100, 0, "");
    expect(nothing.hasStaleBackend(200, 10_000)).toBe(false);
    const notFound = new CacheEntry(EntryKind.NotFound, 0, 100, 100, "");
    expect(notFound.hasStaleBackend(200, 10_000)).toBe(false);
  });
});

// Fetched at 1,000 with a 6-hour feed TTL (held) or positive_ttl_ms of 30 s (plain):
// the kind freshKindAt reads at `now`, with the feed trusted (cap 0) or not.
function heldKindAt(now: u64, cap: u64): i32 {
  const b = new CacheEntry(EntryKind.Found, 3, 1_000 + 21_600_000, 1_000, "a:1", EntryFlags.HeldByFeed).encode();
  return freshKindAt(changetype<usize>(b), <usize>b.byteLength, now, 3, cap);
}
function plainKindAt(now: u64, cap: u64): i32 {
  const b = new CacheEntry(EntryKind.Found, 3, 1_000 + 30_000, 1_000, "a:1").encode();
  return freshKindAt(changetype<usize>(b), <usize>b.byteLength, now, 3, cap);
}

describe("entries held by the change feed", () => {
  it("stay fresh for the feed TTL while the feed is trusted", () => {
    expect(heldKindAt(1_000 + 3_600_000, 0)).toBe(EntryKind.Found);
    expect(heldKindAt(1_000 + 21_600_000, 0)).toBe(-1);
  });

  it("fall back to positive_ttl_ms from their fetch while it is not", () => {
    expect(heldKindAt(1_000 + 29_999, 30_000)).toBe(EntryKind.Found);
    expect(heldKindAt(1_000 + 30_000, 30_000)).toBe(-1);
  });

  it("leave entries written without the flag to their own expiry", () => {
    expect(plainKindAt(1_000 + 29_999, 5)).toBe(EntryKind.Found);
    expect(plainKindAt(1_000 + 30_000, 0)).toBe(-1);
  });
});

describe("lease encoding", () => {
  it("carries whether the owner's feed is healthy", () => {
    const healthy = decodeLease(new Lease(5, 2_000, 42, true).encode())!;
    expect(healthy.feedHealthy).toBe(true);
    expect(load<u32>(changetype<usize>(new Lease(5, 2_000, 42, true).encode()), 4)).toBe(LEASE_FEED_HEALTHY);
    expect(healthy.feedTrusted(1_999)).toBe(true);
    expect(healthy.feedTrusted(2_000)).toBe(false); // expired: nobody follows the feed
    expect(decodeLease(new Lease(5, 2_000, 42).encode())!.feedTrusted(1)).toBe(false);
  });

  it("round-trips and tells holder from vacancy", () => {
    const buf = new Lease(5, 2_000, 42).encode();
    expect(buf.byteLength).toBe(LEASE_SIZE);
    const l = decodeLease(buf)!;
    expect(l.owner).toBe(5);
    expect(l.seq).toBe(42);
    expect(l.heldBy(5, 1_999)).toBe(true);
    expect(l.heldBy(5, 2_000)).toBe(false);
    expect(l.heldBy(6, 1_000)).toBe(false);
    expect(l.vacant(1_000)).toBe(false);
    expect(l.vacant(2_000)).toBe(true);
    expect(new Lease(0, 9_999, 0).vacant(1)).toBe(true);
    expect(decodeLease(new ArrayBuffer(23))).toBeNull();
  });

  it("lays out the lease as wasm/README.md describes", () => {
    const bytes = Uint8Array.wrap(new Lease(0x0102, 0x0304, 0x0506, true).encode());
    expect(LEASE_SIZE).toBe(24);
    expect(bytes[0]).toBe(2); // u32 owner
    expect(bytes[1]).toBe(1);
    expect(bytes[4]).toBe(<u8>LEASE_FEED_HEALTHY); // u32 flags
    expect(bytes[5] | bytes[6] | bytes[7]).toBe(0);
    expect(bytes[8]).toBe(4); // u64 expiresAt
    expect(bytes[16]).toBe(6); // u64 seq
    expect(bytes[17]).toBe(5);
  });
});
