// The etcd client as the route API uses it: TLS and auth from the settings,
// keepalive pings so that a dead connection is noticed in seconds, and one
// retry on another member when a member is unreachable (a write must go on
// when one of three members is down). Calls take a deadline, so that with
// quorum lost a write is refused in seconds rather than hanging.
import { Etcd3, GRPCDeadlineExceededError, isRecoverableError, type IOptions } from "etcd3";
import { handleWhen, retry, circuitBreaker, ConsecutiveBreaker } from "cockatiel";
import { ApiError } from "./errors.ts";
import type { EtcdConfig } from "./store-config.ts";

export function createEtcdClient(config: EtcdConfig): Etcd3 {
  const options: IOptions = {
    hosts: config.endpoints,
    dialTimeout: config.timeoutMs,
    // A deadline per attempt (not per call): the retry on another member gets
    // its own ETCD_TIMEOUT_MS. Streams (the watch) have none.
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: new Date(Date.now() + config.timeoutMs) }),
    grpcOptions: {
      // etcd refuses pings more often than every 5 s (--grpc-keepalive-min-time).
      "grpc.keepalive_time_ms": 10_000,
      "grpc.keepalive_timeout_ms": 5_000,
      "grpc.keepalive_permit_without_calls": 1,
      // gRPC's default reconnect backoff grows to 2 minutes: an edge would stay
      // degraded that long after etcd came back.
      "grpc.initial_reconnect_backoff_ms": 200,
      "grpc.max_reconnect_backoff_ms": 2_000,
    },
    faultHandling: {
      // A member that failed twice in a row is skipped for 2 s: calls go to the others.
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 2_000, breaker: new ConsecutiveBreaker(2) }),
      // Retry on another member when one is unreachable; not after a timeout:
      // without quorum every member times out, and the refusal should not wait twice.
      global: retry(handleWhen((error) => isRecoverableError(error) && !(error instanceof GRPCDeadlineExceededError)), { maxAttempts: 2 }),
    },
  };
  if (config.tls) {
    options.credentials = { rootCertificate: config.tls.ca, privateKey: config.tls.key, certChain: config.tls.cert };
  }
  if (config.auth) options.auth = { username: config.auth.username, password: config.auth.password };
  return new Etcd3(options);
}

/** Call options with a deadline `ms` from now, for calls that may take longer than ETCD_TIMEOUT_MS (pages of a snapshot). */
export function within(ms: number): { deadline: Date } {
  return { deadline: new Date(Date.now() + ms) };
}

/** A failed etcd call as the API answers it: 503, nothing acknowledged. */
export function storeUnavailable(error: unknown): ApiError {
  const reason = error instanceof Error ? error.message : String(error);
  return new ApiError(
    503,
    "store_unavailable",
    // After a timeout etcd may still commit the write later: say "not
    // confirmed", not "not written". Every write here is safe to repeat.
    `etcd did not confirm the write (${reason}), so it is not acknowledged. Routes keep being served from this node's replica; retry once etcd is reachable (repeating a write is harmless)`,
  );
}
