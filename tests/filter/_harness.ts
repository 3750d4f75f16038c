// Runs build/resolver.wasm in the real proxy-wasm host (host/, wasmtime)
// through its Node binding (host/node). Helpers shared by the behaviour tests.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  FilterHost, SharedData, type HttpCall, type HttpCallAnswer, type Outcome,
} from "../../host/node/index.js";

export { FilterHost, SharedData };
export type Pairs = [string, string][];

const root = fileURLToPath(new URL("../..", import.meta.url));
export const wasm = readFileSync(`${root}build/resolver.wasm`);

export const T0 = 1_800_000_000_000;

/** A filter instance (one nginx worker) on `shared`, its clock fixed at `now`. */
export function worker(shared: SharedData, config: Record<string, unknown> = {}, now = T0): FilterHost {
  const host = new FilterHost(wasm, { pluginConfig: JSON.stringify(config), shared, deadlineMs: 1000 });
  host.setTimeMs(now);
  return host;
}

/** A GET for `authority`; `extra` headers (e.g. accept) follow the pseudo-headers. */
export function request(host: FilterHost, authority: string, extra: Pairs = []): Outcome {
  return host.request([[":authority", authority], [":method", "GET"], [":path", "/"], [":scheme", "http"], ...extra]);
}

export function header(pairs: Pairs, name: string): string | undefined {
  return pairs.find(([k]) => k === name)?.[1];
}

/** The single http call an outcome made (throws if there is not exactly one). */
export function onlyCall(outcome: Outcome): HttpCall {
  if (outcome.httpCalls.length !== 1) {
    throw new Error(`expected one http call, got ${outcome.httpCalls.length}: ${JSON.stringify(outcome)}`);
  }
  return outcome.httpCalls[0]!;
}

/** A /resolve answer for an address backend, as the route API sends it (api/src/internal-openapi.ts). */
export function resolveAnswer(host: string, backend: string): HttpCallAnswer {
  return {
    status: 200,
    headers: [["content-type", "application/json"]],
    body: JSON.stringify({ host, backend, match: "exact", pattern: host, addresses: [backend] }),
  };
}

/** A /resolve answer for a backend given by name: its addresses and their lifetime, or why there are none. */
export function nameAnswer(host: string, backend: string, addresses: string[], ttlMs: number, error?: string): HttpCallAnswer {
  return {
    status: 200,
    headers: [["content-type", "application/json"]],
    body: JSON.stringify({ host, backend, match: "exact", pattern: host, addresses, ttl_ms: ttlMs, ...(error ? { error } : {}) }),
  };
}

/** The route API's answer for a host without a route (404) or one that is not a DNS name (400). */
export function errorAnswer(status: 404 | 400, host = "the host"): HttpCallAnswer {
  const [error, message] = status === 404 ? ["not_found", `no route for ${host}`] : ["invalid_host", `${host} is not a DNS name`];
  return { status, headers: [["content-type", "application/json"]], body: JSON.stringify({ error, message }) };
}

/** A /changes page: `hosts` changed (put), the last one at `seq`. */
export function changesAnswer(seq: number, hosts: string[]): HttpCallAnswer {
  return {
    status: 200,
    body: JSON.stringify({ seq, changes: hosts.map((host, i) => ({ seq: seq - hosts.length + 1 + i, op: "put", host })) }),
  };
}

/** The outcome for context `id` among those a delivery returned. */
export function outcomeOf(outcomes: Outcome[], id: number): Outcome | undefined {
  return outcomes.find((o) => o.id === id);
}
