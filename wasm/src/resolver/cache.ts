// The shared cache: entries, the cache epoch and worker ids in proxy-wasm
// shared data.  Every write that could race a newer value uses CAS.
import * as host from "../abi/host";
import { Status } from "../abi/types";
import { CacheEntry, EntryKind, decodeEntry, hostKey } from "./entry";
import { EPOCH_KEY, WORKER_ID_KEY, encodeU32, decodeU32 } from "./lease";

const EPOCH_KEY_BYTES = String.UTF8.encode(EPOCH_KEY);
const WORKER_ID_KEY_BYTES = String.UTF8.encode(WORKER_ID_KEY);
const CAS_RETRIES = 8;

export class StoredEntry {
  constructor(public entry: CacheEntry | null, public cas: u32) {}
}

/** The entry for a host and its CAS; null when the key does not exist. */
export function readEntry(key: ArrayBuffer): StoredEntry | null {
  const v = host.getSharedData(key);
  if (v === null) return null;
  return new StoredEntry(decodeEntry(v.data), v.cas);
}

/** Writes an entry; with cas ≠ 0 only if nobody wrote the key since it was read. */
export function writeEntry(key: ArrayBuffer, entry: CacheEntry, cas: u32): bool {
  return host.setSharedData(key, entry.encode(), cas) == Status.Ok;
}

/**
 * Gives a missing key a Pending entry and returns its CAS, so the answer to the
 * coming callout is only stored if no invalidation touched the key meanwhile.
 */
export function reserveEntry(key: ArrayBuffer, epoch: u32): u32 {
  host.setSharedData(key, new CacheEntry(EntryKind.Pending, epoch, 0, 0, "").encode(), 0);
  const v = host.getSharedData(key);
  return v === null ? 0 : v.cas;
}

/**
 * Marks a host's entry expired (keeping its backend for stale-if-error).
 * Rewriting also changes the key's CAS, which voids any callout answer in flight.
 */
export function invalidateHost(hostName: string): void {
  const key = hostKey(hostName);
  for (let i = 0; i < CAS_RETRIES; i++) {
    const stored = readEntry(key);
    if (stored === null) return;
    let e = stored.entry;
    if (e === null) e = new CacheEntry(EntryKind.Pending, 0, 0, 0, "");
    e.expiresAt = 0;
    if (writeEntry(key, e, stored.cas)) return;
  }
}

/**
 * The first epoch, and the one after the key was lost (an LRU zone may evict
 * it): never one an older entry can carry, so a lost epoch cannot make stale
 * entries fresh again.  Seconds since 1970 grow faster than epochs are bumped.
 */
function freshEpoch(seen: u32, nowMs: u64): u32 {
  const seconds = <u32>(nowMs / 1000);
  return seen >= seconds ? seen + 1 : seconds;
}

/** The cache epoch; `seen` is the caller's last view of it. */
export function readEpoch(seen: u32, nowMs: u64): u32 {
  const v = host.getSharedData(EPOCH_KEY_BYTES);
  if (v !== null && v.data.byteLength == 4) return decodeU32(v.data);
  const epoch = freshEpoch(seen, nowMs);
  host.setSharedData(EPOCH_KEY_BYTES, encodeU32(epoch), 0);
  return epoch;
}

/** Increments the cache epoch: every entry stamped with an older one is stale. Returns the new epoch. */
export function bumpEpoch(seen: u32, nowMs: u64): u32 {
  for (let i = 0; i < CAS_RETRIES; i++) {
    const v = host.getSharedData(EPOCH_KEY_BYTES);
    const current = v !== null && v.data.byteLength == 4 ? decodeU32(v.data) : freshEpoch(seen, nowMs);
    const cas = v === null ? 0 : v.cas;
    if (host.setSharedData(EPOCH_KEY_BYTES, encodeU32(current + 1), cas) == Status.Ok) return current + 1;
  }
  return readEpoch(seen, nowMs);
}

/**
 * A worker id unique among the VMs sharing the zone: a counter incremented
 * with CAS.  The first writer has no CAS to race with (cas 0 writes
 * unconditionally), so each write carries a nonce that is read back.
 */
export function allocateWorkerId(nonce: u32): u32 {
  for (let i = 0; i < CAS_RETRIES * 4; i++) {
    const v = host.getSharedData(WORKER_ID_KEY_BYTES);
    let current: u32 = 0;
    let cas: u32 = 0;
    if (v !== null) {
      cas = v.cas;
      if (v.data.byteLength == 8) current = load<u32>(changetype<usize>(v.data));
    }
    const next = current + 1;
    const value = new ArrayBuffer(8);
    store<u32>(changetype<usize>(value), next);
    store<u32>(changetype<usize>(value), nonce, 4);
    if (host.setSharedData(WORKER_ID_KEY_BYTES, value, cas) != Status.Ok) continue;
    if (cas != 0) return next; // CAS held: nobody else got `next`
    const check = host.getSharedData(WORKER_ID_KEY_BYTES);
    if (check !== null && check.data.byteLength == 8 &&
        load<u32>(changetype<usize>(check.data)) == next &&
        load<u32>(changetype<usize>(check.data), 4) == nonce) return next;
    // Another first writer overwrote ours (or moved on): take a fresh number.
  }
  return 0;
}
