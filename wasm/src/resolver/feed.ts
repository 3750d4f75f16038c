// Change-feed follower.  Every worker's root context ticks; the one holding
// the lease long-polls GET /changes?since=<seq>&wait=<ms> and applies each
// batch to the shared cache: a host change expires that host's entry; a
// wildcard ("*.suffix") or catch-all ("*") change, or a reset, bumps the cache
// epoch so every entry is re-resolved.  The seq lives in the lease, so a
// worker taking over an expired lease resumes where the previous owner stopped.
// The lease also says whether the owner's feed is healthy: every worker reads it
// each tick, and while it is, cached routes may live for feed_ttl_ms.
import * as host from "../abi/host";
import * as log from "./log";
import { Status, BufferType } from "../abi/types";
import { HeaderPair } from "../abi/headers";
import { ResolverConfig } from "./config";
import { Lease, LEASE_KEY, SEQ_UNKNOWN, decodeLease } from "./lease";
import { readChanges, MAX_CHANGES_BYTES } from "./answers";
import * as metrics from "./metrics";
import { bumpEpoch, invalidateHost } from "./cache";
import { normalizeHost } from "./normalize";
import { calloutStatus } from "./respond";
import { decimal } from "../util/decimal";

const LEASE_KEY_BYTES = String.UTF8.encode(LEASE_KEY);

class StoredLease {
  constructor(public lease: Lease, public cas: u32) {}
}

function readLease(): StoredLease {
  const v = host.getSharedData(LEASE_KEY_BYTES);
  if (v === null) return new StoredLease(new Lease(0, 0, SEQ_UNKNOWN), 0);
  const lease = decodeLease(v.data);
  return new StoredLease(lease !== null ? lease : new Lease(0, 0, SEQ_UNKNOWN), v.cas);
}

function writeLease(lease: Lease, cas: u32): bool {
  return host.setSharedData(LEASE_KEY_BYTES, lease.encode(), cas) == Status.Ok;
}

export class ChangeFollower {
  /** Token of the /changes callout in flight; 0 when none. */
  pollToken: u32 = 0;
  pollStartedAt: u64 = 0;
  nextPollAt: u64 = 0;
  leader: bool = false;
  /** When the feed last answered well (ms), for the feed_lag_ms gauge. */
  lastOkAt: u64 = 0;
  /** Whether this worker's feed gauges show a follower's values (reset to 0 when it stops following). */
  reporting: bool = false;
  /** As the leader: its last poll answered well and none has failed since. */
  healthy: bool = false;
  /** Any worker's view, refreshed every tick: a leader holds the lease and says its feed is healthy. */
  feedTrusted: bool = false;

  constructor(public config: ResolverConfig, public workerId: u32) {}

  /** Root tick: hold or take the lease, and keep one poll in flight while holding it. */
  tick(now: u64): void {
    const stored = readLease();
    const lease = stored.lease;
    const ttl = <u64>this.config.leaseTtlMs;
    if (lease.heldBy(this.workerId, now)) {
      this.leader = true;
      if (lease.expiresAt - now < ttl / 2 || lease.feedHealthy != this.healthy) {
        this.leader = writeLease(new Lease(this.workerId, now + ttl, lease.seq, this.healthy), stored.cas);
      }
    } else if (lease.vacant(now)) {
      this.leader = false;
      this.setHealthy(false);
      if (writeLease(new Lease(this.workerId, now + ttl, lease.seq, false), stored.cas)) {
        // With cas 0 (first lease ever) two workers can both write; read back who won.
        this.leader = readLease().lease.owner == this.workerId;
        if (this.leader) {
          const from = lease.seq == SEQ_UNKNOWN ? "its head" : "seq " + decimal(lease.seq);
          log.info("worker " + decimal(this.workerId) + " follows the change feed from " + from);
        }
      }
    } else {
      this.leader = false;
    }
    this.feedTrusted = lease.feedTrusted(now) && (lease.owner != this.workerId || this.healthy);
    // A poll the host never answered (it must, at its timeout) is forgotten.
    const pollLimit = <u64>this.config.pollWaitMs + <u64>this.config.calloutTimeoutMs * 2 + 1000;
    if (this.pollToken != 0 && now > this.pollStartedAt + pollLimit) {
      this.pollToken = 0;
      this.setHealthy(false);
    }
    if (this.leader && this.pollToken == 0 && now >= this.nextPollAt) this.poll(lease.seq, now);
    this.reportLag(now);
  }

  /**
   * The follower's lag as a gauge: 0 while a long poll is open (the route API
   * answers it as soon as anything changes), else how long since the feed last
   * answered (it grows while the route API is away). A worker that stops
   * following reports 0 (hosts take the largest).
   */
  reportLag(now: u64): void {
    if (this.leader && this.lastOkAt != 0) {
      const lag: u64 = this.pollToken != 0 || now <= this.lastOkAt ? 0 : now - this.lastOkAt;
      metrics.record(metrics.feedLagMs, lag);
      this.reporting = true;
    } else if (this.reporting) {
      metrics.record(metrics.feedLagMs, 0);
      metrics.record(metrics.feedSeq, 0);
      this.reporting = false;
    }
  }

  poll(since: u64, now: u64): void {
    const headers = new Array<HeaderPair>();
    headers.push(new HeaderPair(":method", "GET"));
    headers.push(new HeaderPair(":path", "/changes?since=" + decimal(since) + "&wait=" + decimal(this.config.pollWaitMs)));
    headers.push(new HeaderPair(":authority", this.config.resolverAuthority));
    headers.push(new HeaderPair("accept", "application/json"));
    this.pollStartedAt = now;
    this.pollToken = host.httpCall(this.config.resolverCluster, headers, this.config.pollWaitMs + this.config.calloutTimeoutMs);
    if (this.pollToken == 0) {
      log.warn("cannot call cluster \"" + this.config.resolverCluster + "\" for /changes");
      this.nextPollAt = now + <u64>this.config.pollRetryMs;
      this.setHealthy(false);
    }
  }

  /**
   * The leader's own view of its feed, published in the lease at the next tick
   * (a failure) or with the seq it applied (a success). Logged when it flips.
   */
  setHealthy(healthy: bool): void {
    if (healthy == this.healthy) return;
    this.healthy = healthy;
    if (!this.leader) return;
    if (healthy) log.info("change feed healthy: cached routes live up to feed_ttl_ms");
    else log.warn("change feed not healthy: cached routes live up to positive_ttl_ms from their lookup");
  }

  isPoll(token: u32): bool {
    return token != 0 && token == this.pollToken;
  }

  onResponse(headerCount: u32, bodySize: usize, now: u64): void {
    this.pollToken = 0;
    const status = calloutStatus(headerCount);
    let batchSeq: u64 = 0;
    let applied = false;
    let empty = false;
    if (status == 200 && bodySize <= <usize>MAX_CHANGES_BYTES) {
      const body = host.getBufferBytes(BufferType.HttpCallResponseBody, 0, bodySize);
      const batch = body !== null ? readChanges(Uint8Array.wrap(body)) : null;
      if (batch !== null) {
        const stored = readLease();
        if (!stored.lease.heldBy(this.workerId, now)) {
          // Lost the lease while polling: the new owner fetches from the stored seq.
          this.leader = false;
          return;
        }
        this.apply(batch.reset, batch.hosts, now);
        batchSeq = batch.seq;
        this.lastOkAt = now;
        this.setHealthy(true);
        metrics.record(metrics.feedSeq, batchSeq);
        if (batch.reset) metrics.increment(metrics.feedResets);
        empty = !batch.reset && batch.hosts.length == 0;
        applied = true;
        // Apply first, then advance seq: a crash in between replays, never skips.
        const next = new Lease(this.workerId, now + <u64>this.config.leaseTtlMs, batchSeq, this.healthy);
        if (!writeLease(next, stored.cas)) this.leader = false;
      }
    }
    if (!applied) {
      this.setHealthy(false);
      log.warn("/changes failed (status " + decimal(status) + "); retrying in " + decimal(this.config.pollRetryMs) + " ms");
      this.nextPollAt = now + <u64>this.config.pollRetryMs;
      return;
    }
    if (!this.leader) return;
    if (empty) {
      // An empty answer came back early (wait=0 or a timeout): poll again on the next tick, not in a loop.
      this.nextPollAt = now + <u64>this.config.tickMs;
      return;
    }
    this.poll(batchSeq, now);
  }

  apply(reset: bool, hosts: Array<string>, now: u64): void {
    let everything = reset;
    for (let i = 0; i < hosts.length && !everything; i++) {
      const h = unchecked(hosts[i]);
      if (h == "*" || h.startsWith("*.")) { everything = true; break; }
      const normalized = normalizeHost(h);
      if (normalized === null) {
        log.warn("ignoring a change for an invalid host"); // not echoed: it came from the network
        continue;
      }
      invalidateHost(normalized);
    }
    if (everything) {
      const epoch = bumpEpoch(0, now);
      log.info("cache epoch " + decimal(epoch) + (reset ? " (feed reset)" : " (wildcard change)"));
    }
  }
}
