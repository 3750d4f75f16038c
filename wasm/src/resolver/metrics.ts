// The resolver's own metrics, through proxy-wasm's metric calls, so any host can
// show them (in nginx: `set_backend_metrics`, summed over workers). Only the slow
// paths count here — lookups, stale answers, the change feed; a cache hit costs no
// host call (the nginx module counts requests itself).
import * as abi from "../abi/imports";
import { RETURN_A } from "../abi/memory";

namespace MetricType {
  export const Counter: u32 = 0;
  export const Gauge: u32 = 1;
  export const Histogram: u32 = 2;
}

/** The metric's id, or 0 when the host refused it (then nothing is recorded). */
function define(kind: u32, name: string): u32 {
  const bytes = String.UTF8.encode(name);
  if (abi.proxy_define_metric(kind, changetype<usize>(bytes), <usize>bytes.byteLength, RETURN_A) != 0) return 0;
  return load<u32>(RETURN_A);
}

// Metric ids (0 until defineMetrics, or when the host refused one).
/** /resolve answers by kind, and how long each lookup took (ms). */
export let lookupsFound: u32 = 0;
export let lookupsNotFound: u32 = 0;
export let lookupsUnresolvable: u32 = 0;
export let lookupsFailed: u32 = 0;
export let lookupMs: u32 = 0;
/** Requests sent to a stale backend because the route API failed (stale-if-error). */
export let staleServed: u32 = 0;
/** The last change applied, and the feed's lag (ms): the follower's, 0 elsewhere. */
export let feedSeq: u32 = 0;
export let feedLagMs: u32 = 0;
export let feedResets: u32 = 0;

/** At configuration (a restarted instance gets the same ids back, and its counts go on). */
export function defineMetrics(): void {
  lookupsFound = define(MetricType.Counter, "lookups_found_total");
  lookupsNotFound = define(MetricType.Counter, "lookups_not_found_total");
  lookupsUnresolvable = define(MetricType.Counter, "lookups_unresolvable_total");
  lookupsFailed = define(MetricType.Counter, "lookups_failed_total");
  lookupMs = define(MetricType.Histogram, "lookup_duration_ms");
  staleServed = define(MetricType.Counter, "stale_served_total");
  feedSeq = define(MetricType.Gauge, "feed_seq");
  feedLagMs = define(MetricType.Gauge, "feed_lag_ms");
  feedResets = define(MetricType.Counter, "feed_resets_total");
}

export function increment(id: u32): void {
  if (id != 0) abi.proxy_increment_metric(id, 1);
}

export function record(id: u32, value: u64): void {
  if (id != 0) abi.proxy_record_metric(id, value);
}
