// Cache entries as stored in proxy-wasm shared data (one nginx shm zone for
// all workers), key "sb:h:" + normalized host.  The byte layout is described
// once, in wasm/README.md ("Shared data layout"); encode() and the readers
// below are its code, and tests/filter/shared-layout.test.ts reads it back from
// the built filter.  In short: u8 kind, u8 flags (EntryFlags), 2 zero bytes,
// u32 epoch, u64 expiresAt, u64 fetchedAt (ENTRY_HEADER bytes), then the
// addresses or the name as UTF-8.
//
// Pure code (no host calls) so as-pect can test it.

export namespace EntryKind {
  /** Written before a callout so the writer gets a CAS value to race against invalidations. */
  export const Pending: u8 = 0;
  /** The route API answered 200 with `backend`. */
  export const Found: u8 = 1;
  /** The route API answered 404: no site here. */
  export const NotFound: u8 = 2;
  /** The route API failed; `backend` (if not empty) is a stale one still served. */
  export const Unavailable: u8 = 3;
  /** The route's backend is a name that does not resolve: 502. */
  export const Unresolvable: u8 = 4;
}

export namespace EntryFlags {
  /**
   * A Found entry written while the change feed was healthy, with the long
   * feed_ttl_ms: the feed invalidates it when its route changes.  While the feed
   * is not healthy it is fresh only until fetchedAt + positive_ttl_ms.
   */
  export const HeldByFeed: u8 = 1;
}

export const ENTRY_HEADER: i32 = 24;
export const MAX_BACKEND: i32 = 1024;
export const HOST_KEY_PREFIX = "sb:h:";

export function hostKey(host: string): ArrayBuffer {
  return String.UTF8.encode(HOST_KEY_PREFIX + host);
}

export class CacheEntry {
  constructor(
    public kind: u8,
    public epoch: u32,
    public expiresAt: u64,
    public fetchedAt: u64,
    public backend: string,
    public flags: u8 = 0) {}

  /** Fresh = answers requests without asking the route API. */
  isFresh(nowMs: u64, epoch: u32): bool {
    return this.kind != EntryKind.Pending && this.epoch == epoch && nowMs < this.expiresAt;
  }

  /** A backend that may still be served while the route API is failing. */
  hasStaleBackend(nowMs: u64, maxStaleMs: u64): bool {
    if (this.backend.length == 0) return false;
    if (this.kind != EntryKind.Found && this.kind != EntryKind.Unavailable) return false;
    return nowMs <= this.fetchedAt + maxStaleMs;
  }

  encode(): ArrayBuffer {
    const b = String.UTF8.encode(this.backend);
    const out = new ArrayBuffer(ENTRY_HEADER + b.byteLength);
    const p = changetype<usize>(out);
    store<u8>(p, this.kind);
    store<u8>(p, this.flags, 1);
    store<u16>(p, 0, 2);
    store<u32>(p, this.epoch, 4);
    store<u64>(p, this.expiresAt, 8);
    store<u64>(p, this.fetchedAt, 16);
    memory.copy(p + <usize>ENTRY_HEADER, changetype<usize>(b), <usize>b.byteLength);
    return out;
  }
}

/** True if `size` bytes at `p` have the shape of an entry this version wrote. */
function wellFormedAt(p: usize, size: usize): bool {
  if (size < <usize>ENTRY_HEADER || size > <usize>(ENTRY_HEADER + MAX_BACKEND)) return false;
  return load<u8>(p) <= EntryKind.Unresolvable && load<u8>(p, 1) <= EntryFlags.HeldByFeed && load<u16>(p, 2) == 0;
}

/**
 * The kind of a fresh entry read in place (cache-hit path, no allocation),
 * or -1 when the value is stale, pending, from another epoch or malformed.
 * `feedDownTtlMs` is 0 while the change feed is healthy; otherwise entries held
 * by the feed are fresh only that long after their fetch.
 */
export function freshKindAt(p: usize, size: usize, nowMs: u64, epoch: u32, feedDownTtlMs: u64 = 0): i32 {
  if (!wellFormedAt(p, size)) return -1;
  const kind = load<u8>(p);
  if (kind == EntryKind.Pending || load<u32>(p, 4) != epoch || nowMs >= load<u64>(p, 8)) return -1;
  if (feedDownTtlMs != 0 && (load<u8>(p, 1) & EntryFlags.HeldByFeed) != 0 && nowMs >= load<u64>(p, 16) + feedDownTtlMs) return -1;
  return <i32>kind;
}

/** Decodes an entry in memory; null if it is not one this version wrote. */
export function decodeEntryAt(p: usize, size: usize): CacheEntry | null {
  if (!wellFormedAt(p, size)) return null;
  return new CacheEntry(
    load<u8>(p),
    load<u32>(p, 4),
    load<u64>(p, 8),
    load<u64>(p, 16),
    String.UTF8.decodeUnsafe(p + <usize>ENTRY_HEADER, size - <usize>ENTRY_HEADER),
    load<u8>(p, 1));
}

/** Decodes a stored value; null if it is not an entry this version wrote. */
export function decodeEntry(buf: ArrayBuffer): CacheEntry | null {
  return decodeEntryAt(changetype<usize>(buf), <usize>buf.byteLength);
}
