import { CacheEntry, EntryKind, decodeEntry, freshKindAt, ENTRY_HEADER } from "../../src/resolver/entry";
import { Lease, decodeLease, LEASE_SIZE } from "../../src/resolver/lease";

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
  });

  it("lays out the header little-endian", () => {
    const buf = new CacheEntry(EntryKind.NotFound, 0x01020304, 0x0a0b, 0, "").encode();
    const bytes = Uint8Array.wrap(buf);
    expect(bytes[0]).toBe(2);
    expect(bytes[4]).toBe(4);
    expect(bytes[7]).toBe(1);
    expect(bytes[8]).toBe(0x0b);
    expect(bytes[9]).toBe(0x0a);
  });

  it("refuses values it did not write", () => {
    expect(decodeEntry(new ArrayBuffer(3))).toBeNull();
    const bad = new CacheEntry(EntryKind.Found, 1, 2, 3, "x:1").encode();
    store<u8>(changetype<usize>(bad), 9);
    expect(decodeEntry(bad)).toBeNull();
    const padded = new CacheEntry(EntryKind.Found, 1, 2, 3, "x:1").encode();
    store<u8>(changetype<usize>(padded), 1, 2);
    expect(decodeEntry(padded)).toBeNull();
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

describe("lease encoding", () => {
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
});
