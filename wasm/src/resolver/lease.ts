// The change-feed lease: one worker (across all nginx workers sharing the
// shm zone) follows /changes at a time.  Stored at key "sb:lease", replaced
// only with CAS.  Its bytes (u32 owner, u32 flags: LEASE_FEED_HEALTHY, u64
// expiresAt, u64 seq) are described once, in wasm/README.md ("Shared data
// layout"), with the other keys of this file; tests/filter/shared-layout.test.ts
// reads them back from the built filter.
//
// Keeping `seq` in the lease lets a worker that takes over resume where the
// previous owner stopped.  Pure code.

export const LEASE_KEY = "sb:lease";

/**
 * The seq of a feed nobody has followed yet (a fresh zone). Beyond any real seq
 * (Number.MAX_SAFE_INTEGER, the most the route API accepts), so the first poll is
 * answered with a reset at the log's head: an empty cache has nothing to replay,
 * and replaying the retained log (10,000 changes by default, in pages parsed back
 * to back) stalled requests for milliseconds right after nginx started.
 */
export const SEQ_UNKNOWN: u64 = 9007199254740991;
export const WORKER_ID_KEY = "sb:wid";
export const EPOCH_KEY = "sb:epoch";
export const LEASE_SIZE: i32 = 24;
export const LEASE_FEED_HEALTHY: u32 = 1;

export class Lease {
  constructor(public owner: u32, public expiresAt: u64, public seq: u64, public feedHealthy: bool = false) {}

  /** Whether every worker may trust the feed to invalidate cached routes: held, and healthy. */
  feedTrusted(nowMs: u64): bool {
    return this.feedHealthy && !this.vacant(nowMs);
  }

  heldBy(worker: u32, nowMs: u64): bool {
    return this.owner == worker && nowMs < this.expiresAt;
  }

  vacant(nowMs: u64): bool {
    return this.owner == 0 || nowMs >= this.expiresAt;
  }

  encode(): ArrayBuffer {
    const out = new ArrayBuffer(LEASE_SIZE);
    const p = changetype<usize>(out);
    store<u32>(p, this.owner);
    store<u32>(p, this.feedHealthy ? LEASE_FEED_HEALTHY : 0, 4);
    store<u64>(p, this.expiresAt, 8);
    store<u64>(p, this.seq, 16);
    return out;
  }
}

export function decodeLease(buf: ArrayBuffer): Lease | null {
  if (buf.byteLength != LEASE_SIZE) return null;
  const p = changetype<usize>(buf);
  return new Lease(load<u32>(p), load<u64>(p, 8), load<u64>(p, 16), (load<u32>(p, 4) & LEASE_FEED_HEALTHY) != 0);
}

/**
 * A u32 value of 4 little-endian bytes: the cache epoch ("sb:epoch").  The
 * worker-id counter ("sb:wid") is 8 bytes, counter and nonce, written by
 * allocateWorkerId in cache.ts.
 */
export function encodeU32(v: u32): ArrayBuffer {
  const out = new ArrayBuffer(4);
  store<u32>(changetype<usize>(out), v);
  return out;
}

export function decodeU32(buf: ArrayBuffer): u32 {
  return buf.byteLength == 4 ? load<u32>(changetype<usize>(buf)) : 0;
}
