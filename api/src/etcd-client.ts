// The etcd client as the route API uses it: TLS and auth from the settings,
// keepalive pings so that a dead connection is noticed in seconds, a deadline
// on every call, and a second try on another member when one is unreachable.
// Writes add their own retries within ETCD_TIMEOUT_MS (withinBudget below).
import { Etcd3, isRecoverableError, type IOptions } from "etcd3";
import { handleWhen, retry, circuitBreaker, ConsecutiveBreaker } from "cockatiel";
import { ApiError } from "./errors.ts";
import type { EtcdConfig } from "./store-config.ts";

// Attempts per write within ETCD_TIMEOUT_MS.
const ATTEMPTS = 3;

export function createEtcdClient(config: EtcdConfig): Etcd3 {
  const options: IOptions = {
    hosts: config.endpoints,
    dialTimeout: config.timeoutMs,
    // A deadline per attempt, a third of the budget each: a write gets about
    // three tries in ETCD_TIMEOUT_MS. Streams (the watch) have none.
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: new Date(Date.now() + config.timeoutMs / ATTEMPTS) }),
    grpcOptions: {
      // etcd refuses pings more often than every 5 s (--grpc-keepalive-min-time).
      "grpc.keepalive_time_ms": 10_000,
      "grpc.keepalive_timeout_ms": 5_000,
      "grpc.keepalive_permit_without_calls": 1,
      // gRPC's default reconnect backoff grows to 2 minutes: an edge would stay
      // degraded that long after etcd came back.
      "grpc.initial_reconnect_backoff_ms": 200,
      "grpc.max_reconnect_backoff_ms": 2_000,
      // Snapshot pages of 50,000 routes (etcd-keys.ts) exceed gRPC's default 4 MiB.
      "grpc.max_receive_message_length": 256 * 1024 * 1024,
    },
    faultHandling: {
      // A member that failed twice in a row is skipped for 2 s: calls go to the others.
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 2_000, breaker: new ConsecutiveBreaker(2) }),
      global: retry(handleWhen(isRecoverableError), { maxAttempts: 1 }),
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

/**
 * Runs `call` again after a recoverable failure (an unreachable member, a
 * timeout) until `budgetMs` has passed. A follower drops the proposals it gets
 * while the cluster elects a new leader, so the write that hit a leader's loss
 * times out although the next one, a second later, succeeds. Only for calls
 * that are safe to repeat (every write here is: a put, a delete, a
 * compare-and-put of the same value).
 */
export async function withinBudget<T>(budgetMs: number, call: () => Promise<T>): Promise<T> {
  const giveUpAt = Date.now() + budgetMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (!isRecoverableError(error as Error) || Date.now() + 100 >= giveUpAt) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
