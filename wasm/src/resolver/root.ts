// The resolver's root context: configuration, the per-worker table of
// lookups in flight (coalescing), callout answers, and the tick.
import { RootContext, HttpContext, httpContextAlive } from "../abi/context";
import * as host from "../abi/host";
import * as log from "./log";
import { Action, BufferType } from "../abi/types";
import { HeaderPair } from "../abi/headers";
import { ResolverConfig, parseConfig, MAX_CONFIG_BYTES } from "./config";
import { CacheEntry, EntryKind, EntryFlags, hostKey, freshKindAt, decodeEntryAt, ENTRY_HEADER, HOST_KEY_PREFIX } from "./entry";
import { StoredEntry, writeEntry, reserveEntry, readEpoch, allocateWorkerId } from "./cache";
import { returnedPtr, returnedSize } from "../abi/memory";
import { readResolveAnswer, MAX_RESOLVE_BYTES } from "./answers";
import { ChangeFollower } from "./feed";
import { Resolution, Outcome, backendOf, staleBackendOf, NOT_FOUND, UNAVAILABLE, BAD_GATEWAY, deliver, calloutStatus, setBackendRaw } from "./respond";
import { ResolverRequest } from "./request";
import { decimal } from "../util/decimal";
import * as metrics from "./metrics";

function hostOfKey(keyPtr: usize, keySize: usize): string {
  const prefix = <usize>HOST_KEY_PREFIX.length;
  return String.UTF8.decodeUnsafe(keyPtr + prefix, keySize - prefix);
}

/** One /resolve callout and the requests waiting for it (all on this worker). */
export class Lookup {
  waiters: Array<u32> = [];
  constructor(
    public host: string,
    public key: ArrayBuffer,
    public epoch: u32,
    public cas: u32,
    public previous: CacheEntry | null,
    public startedAt: u64) {}
  token: u32 = 0;
}

export class ResolverRoot extends RootContext {
  config: ResolverConfig = new ResolverConfig();
  configured: bool = false;
  /** This worker's view of the cache epoch, refreshed every tick. */
  epoch: u32 = 0;
  /** 0 while the change feed is trusted, else positive_ttl_ms: caps entries held by the feed (freshKindAt). */
  feedDownTtlMs: u64 = 0;
  follower: ChangeFollower | null = null;
  /** Lookups in flight by host.  Answers find theirs by token with a scan:
   *  at most max_pending_hosts entries, and one map type less in the binary. */
  lookups: Map<string, Lookup> = new Map();

  onConfigure(configSize: usize): bool {
    // One log line for every way the configuration can be bad.
    let error = "larger than " + decimal(MAX_CONFIG_BYTES) + " bytes";
    if (configSize <= <usize>MAX_CONFIG_BYTES) {
      const bytes = configSize > 0 ? host.getBufferBytes(BufferType.PluginConfiguration, 0, configSize) : new ArrayBuffer(0);
      error = "the host did not provide it";
      if (bytes !== null) {
        const parsed = parseConfig(Uint8Array.wrap(bytes));
        error = parsed.error;
        const config = parsed.config;
        if (config !== null) return this.start(config);
      }
    }
    log.error("bad plugin configuration: " + error);
    return false;
  }

  /** Configuration accepted: worker id, change feed, tick. */
  start(config: ResolverConfig): bool {
    this.config = config;
    const now = host.nowMs();
    const workerId = allocateWorkerId(<u32>(host.nowNs() & 0xffffffff));
    if (workerId == 0) {
      log.error("could not allocate a worker id in shared data");
      return false;
    }
    metrics.defineMetrics();
    this.follower = new ChangeFollower(this.config, workerId);
    this.epoch = readEpoch(0, now);
    this.feedDownTtlMs = <u64>config.positiveTtlMs; // until a tick has seen a healthy feed
    host.setTickPeriodMs(this.config.tickMs);
    this.configured = true;
    return true;
  }

  onTick(): void {
    const follower = this.follower; // set whenever configured
    if (!this.configured || follower === null) return;
    const now = host.nowMs();
    this.epoch = readEpoch(this.epoch, now);
    follower.tick(now);
    this.feedDownTtlMs = follower.feedTrusted ? 0 : <u64>this.config.positiveTtlMs;
    this.abandonLostLookups(now);
  }

  /**
   * The host answers every call, at the latest at its timeout; should an answer
   * never come, the requests waiting on it must not hang, nor every later
   * request for that host join a dead lookup.
   */
  abandonLostLookups(now: u64): void {
    const limit = <u64>this.config.calloutTimeoutMs * 2 + 1000;
    const pending = this.lookups.values();
    for (let i = 0; i < pending.length; i++) {
      const lookup = unchecked(pending[i]);
      if (now <= lookup.startedAt + limit) continue; // (a clock stepped back abandons nothing)
      this.lookups.delete(lookup.host);
      log.warn("/resolve/" + lookup.host + " was never answered");
      this.release(lookup, this.fallback(lookup.previous, now));
    }
  }

  /** Resumes every request still waiting on a lookup. */
  release(lookup: Lookup, res: Resolution): void {
    for (let i = 0; i < lookup.waiters.length; i++) {
      const id = lookup.waiters[i];
      // A request may have ended (client gone) while it waited.
      if (!httpContextAlive(id) || !host.setEffectiveContext(id)) continue;
      deliver(res, lookup.host, this.config, true);
    }
  }

  createHttpContext(id: u32): HttpContext {
    return new ResolverRequest(id, this);
  }

  /**
   * on_request_headers, in the request's context, for the cache key
   * "sb:h:<normalized host>" at keyPtr.  A fresh entry is served in place:
   * one shared-data read and one property set, no allocation.
   */
  resolveKey(request: ResolverRequest, keyPtr: usize, keySize: usize): u32 {
    const now = host.nowMs();
    let stored: StoredEntry | null = null;
    if (host.getSharedRaw(keyPtr, keySize)) {
      const vptr = returnedPtr();
      const vsize = returnedSize();
      const kind = freshKindAt(vptr, vsize, now, this.epoch, this.feedDownTtlMs);
      if (kind == EntryKind.Found || (kind == EntryKind.Unavailable && vsize > <usize>ENTRY_HEADER)) {
        setBackendRaw(vptr + <usize>ENTRY_HEADER, vsize - <usize>ENTRY_HEADER);
        return Action.Continue;
      }
      if (kind >= 0) {
        const res = kind == EntryKind.NotFound ? NOT_FOUND : kind == EntryKind.Unresolvable ? BAD_GATEWAY : UNAVAILABLE;
        return deliver(res, hostOfKey(keyPtr, keySize), this.config, false);
      }
      stored = new StoredEntry(decodeEntryAt(vptr, vsize), host.returnedCas());
    }
    return this.miss(request, hostOfKey(keyPtr, keySize), stored, now);
  }

  /** No fresh entry: join this worker's lookup for the host, or start one. */
  miss(request: ResolverRequest, hostName: string, stored: StoredEntry | null, now: u64): u32 {
    const key = hostKey(hostName);
    const entry = stored !== null ? stored.entry : null;
    if (this.lookups.has(hostName)) {
      request.wait(this.lookups.get(hostName));
      return Action.Pause;
    }
    if (<u32>this.lookups.size >= this.config.maxPendingHosts) {
      return deliver(this.fallback(entry, now), hostName, this.config, false);
    }
    const cas = stored !== null ? stored.cas : reserveEntry(key, this.epoch);
    const lookup = new Lookup(hostName, key, this.epoch, cas, entry, now);
    // Call from the root context: the call then belongs to the root, so its
    // answer arrives even if this first request is gone by then, and reaches
    // every request that joined the lookup.
    host.setEffectiveContext(this.id);
    const token = this.callResolve(hostName);
    host.setEffectiveContext(request.id);
    if (token == 0) {
      // Refused locally (unknown cluster, host's call limit): nothing about the
      // host is learnt, so nothing is cached.
      log.warn("cannot call cluster \"" + this.config.resolverCluster + "\" for " + hostName);
      return deliver(this.fallback(entry, now), hostName, this.config, false);
    }
    request.wait(lookup);
    this.lookups.set(hostName, lookup);
    lookup.token = token;
    return Action.Pause;
  }

  /** Without asking the API: a stale backend if one may be served, else 503. */
  fallback(entry: CacheEntry | null, now: u64): Resolution {
    if (entry !== null && entry.hasStaleBackend(now, <u64>this.config.maxStaleMs)) return staleBackendOf(entry.backend);
    return UNAVAILABLE;
  }

  callResolve(hostName: string): u32 {
    const headers = new Array<HeaderPair>();
    headers.push(new HeaderPair(":method", "GET"));
    headers.push(new HeaderPair(":path", "/resolve/" + hostName));
    headers.push(new HeaderPair(":authority", this.config.resolverAuthority));
    headers.push(new HeaderPair("accept", "application/json"));
    return host.httpCall(this.config.resolverCluster, headers, this.config.calloutTimeoutMs);
  }

  /** The API failed: serve (and remember for errorTtl) a stale backend, or 503. */
  recordFailure(lookup: Lookup, now: u64): Resolution {
    metrics.increment(metrics.lookupsFailed);
    const res = this.fallback(lookup.previous, now);
    const prev = lookup.previous;
    const fetchedAt: u64 = res.outcome == Outcome.Backend && prev !== null ? prev.fetchedAt : 0;
    writeEntry(lookup.key, new CacheEntry(EntryKind.Unavailable, lookup.epoch,
      now + <u64>this.config.errorTtlMs, fetchedAt, res.backend), lookup.cas);
    return res;
  }

  onHttpCallResponse(token: u32, headerCount: u32, bodySize: usize, trailerCount: u32): void {
    const follower = this.follower; // set whenever configured
    if (!this.configured || follower === null) return;
    const now = host.nowMs();
    if (follower.isPoll(token)) {
      follower.onResponse(headerCount, bodySize, now);
      this.epoch = readEpoch(this.epoch, now);
      return;
    }
    const pending = this.lookups.values();
    for (let i = 0; i < pending.length; i++) {
      const lookup = unchecked(pending[i]);
      if (lookup.token != token) continue;
      this.lookups.delete(lookup.host);
      this.release(lookup, this.answer(lookup, calloutStatus(headerCount), bodySize, now));
      return;
    }
  }

  /** Caches the route API's answer (unless an invalidation got there first) and returns it. */
  answer(lookup: Lookup, status: u32, bodySize: usize, now: u64): Resolution {
    metrics.record(metrics.lookupMs, now >= lookup.startedAt ? now - lookup.startedAt : 0);
    // 404: no route. Another 4xx (except timeout and rate limit): the API refuses
    // the name itself (its full UTS#46 is stricter than the filter's subset), so
    // there is no site either; it is not an outage to paper over with 503s.
    if (status >= 400 && status < 500 && status != 408 && status != 429) {
      writeEntry(lookup.key, new CacheEntry(EntryKind.NotFound, lookup.epoch,
        now + <u64>this.config.negativeTtlMs, now, ""), lookup.cas);
      metrics.increment(metrics.lookupsNotFound);
      return NOT_FOUND;
    }
    if (status == 200 && bodySize <= <usize>MAX_RESOLVE_BYTES) {
      const body = host.getBufferBytes(BufferType.HttpCallResponseBody, 0, bodySize);
      const answer = body !== null ? readResolveAnswer(Uint8Array.wrap(body)) : null;
      if (answer !== null) {
        // A name's addresses hold for their TTL; the route itself until the change
        // feed invalidates it, with feed_ttl_ms as a safety net while the feed is
        // healthy (then every change reaches the cache) and positive_ttl_ms otherwise.
        let ttl = <u64>this.config.positiveTtlMs;
        let flags: u8 = 0;
        if (answer.ttlMs >= 0) {
          if (<u64>answer.ttlMs < ttl) ttl = <u64>answer.ttlMs;
        } else if (this.feedDownTtlMs == 0 && this.config.feedTtlMs > this.config.positiveTtlMs) {
          ttl = <u64>this.config.feedTtlMs;
          flags = EntryFlags.HeldByFeed;
        }
        if (answer.addresses.length == 0) {
          log.warn("host " + lookup.host + ": backend " + answer.backend + " does not resolve" +
            (answer.error.length > 0 ? ": " + answer.error : ""));
          writeEntry(lookup.key, new CacheEntry(EntryKind.Unresolvable, lookup.epoch, now + ttl, now, answer.backend), lookup.cas);
          metrics.increment(metrics.lookupsUnresolvable);
          return BAD_GATEWAY;
        }
        writeEntry(lookup.key, new CacheEntry(EntryKind.Found, lookup.epoch, now + ttl, now, answer.addresses, flags), lookup.cas);
        metrics.increment(metrics.lookupsFound);
        return backendOf(answer.addresses);
      }
      log.warn("/resolve/" + lookup.host + " answered 200 without a valid backend");
    } else {
      log.warn("/resolve/" + lookup.host + " failed (status " + decimal(status) + ")");
    }
    return this.recordFailure(lookup, now);
  }
}
