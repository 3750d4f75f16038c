// The etcd client as the route API uses it: TLS and auth from the settings,
// keepalive pings so that a dead connection is noticed in seconds, and one
// retry on another member when a member is unreachable (a write must go on
// when one of three members is down). Calls take a deadline, so that with
// quorum lost a write is refused in seconds rather than hanging.
import { Etcd3, isRecoverableError, type IOptions } from "etcd3";
import { handleWhen, retry, circuitBreaker, ConsecutiveBreaker } from "cockatiel";
import { ApiError } from "./errors.ts";
import type { EtcdConfig } from "./store-config.ts";

export function createEtcdClient(config: EtcdConfig): Etcd3 {
  const options: IOptions = {
    hosts: config.endpoints,
    dialTimeout: config.timeoutMs,
    grpcOptions: {
      // etcd refuses pings more often than every 5 s (--grpc-keepalive-min-time).
      "grpc.keepalive_time_ms": 10_000,
      "grpc.keepalive_timeout_ms": 5_000,
      "grpc.keepalive_permit_without_calls": 1,
    },
    faultHandling: {
      // A member that failed twice in a row is skipped for 2 s: calls go to the others.
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 2_000, breaker: new ConsecutiveBreaker(2) }),
      global: retry(handleWhen(isRecoverableError), { maxAttempts: 2 }),
    },
  };
  if (config.tls) {
    options.credentials = { rootCertificate: config.tls.ca, privateKey: config.tls.key, certChain: config.tls.cert };
  }
  if (config.auth) options.auth = { username: config.auth.username, password: config.auth.password };
  return new Etcd3(options);
}

/** Call options with a deadline `ms` from now. */
export function within(ms: number): { deadline: Date } {
  return { deadline: new Date(Date.now() + ms) };
}

/** A failed etcd call as the API answers it: 503, nothing acknowledged. */
export function storeUnavailable(error: unknown): ApiError {
  const reason = error instanceof Error ? error.message : String(error);
  return new ApiError(
    503,
    "store_unavailable",
    `etcd did not accept the write (${reason}); nothing was acknowledged. Routes keep being served from this node's replica; retry once etcd is reachable`,
  );
}
