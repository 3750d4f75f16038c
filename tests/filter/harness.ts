// Runs build/resolver.wasm in the real proxy-wasm host (host/, wasmtime)
// through its Node binding (host/node). Helpers shared by the behaviour tests.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

export type Pairs = [string, string][];

export interface LocalResponse { status: number; body: string; headers: Pairs }
export interface HttpCall { token: number; upstream: string; headers: Pairs; body: string; timeoutMs: number }
export interface Outcome {
  id: number;
  action: "continue" | "pause" | "local_response" | "trap";
  localResponse?: LocalResponse | null;
  properties: Record<string, string>;
  httpCalls: HttpCall[];
  logs: { level: string; message: string }[];
  error?: string | null;
}
export interface CallAnswer { status?: number; headers?: Pairs; body?: string }

export interface SharedDataApi {
  get(key: string): { value: Buffer; cas: number } | null;
  set(key: string, value: Buffer, cas: number): "ok" | "cas_mismatch";
  readonly size: number;
}

export interface FilterHostApi {
  setTimeMs(ms: number | null): void;
  request(headers: Pairs): Outcome;
  deliverHttpCallResponse(token: number, answer: CallAnswer | null): Outcome[];
  tick(): Outcome;
  finishRequest(id: number): Outcome;
  readonly tickPeriodMs: number;
  readonly trapCount: number;
}

interface Binding {
  SharedData: new () => SharedDataApi;
  FilterHost: new (wasm: Buffer, options: { pluginConfig?: string; shared?: SharedDataApi; deadlineMs?: number }) => FilterHostApi;
}

const root = fileURLToPath(new URL("../..", import.meta.url));
const require = createRequire(import.meta.url);

/** The binding; loading fails loudly if host/node has not been built. */
export const binding = require(`${root}host/node/index.js`) as Binding;
export const wasm = readFileSync(`${root}build/resolver.wasm`);

export const T0 = 1_800_000_000_000;

/** A filter instance (one nginx worker) on `shared`, its clock fixed at `now`. */
export function worker(shared: SharedDataApi, config: Record<string, unknown> = {}, now = T0): FilterHostApi {
  const host = new binding.FilterHost(wasm, { pluginConfig: JSON.stringify(config), shared, deadlineMs: 1000 });
  host.setTimeMs(now);
  return host;
}

export function request(host: FilterHostApi, authority: string): Outcome {
  return host.request([[":authority", authority], [":method", "GET"], [":path", "/"], [":scheme", "http"]]);
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

export function resolveAnswer(host: string, backend: string): CallAnswer {
  return {
    status: 200,
    headers: [["content-type", "application/json"]],
    body: JSON.stringify({ host, backend, match: "exact", pattern: host }),
  };
}

export function changesAnswer(seq: number, hosts: string[]): CallAnswer {
  return {
    status: 200,
    body: JSON.stringify({ seq, changes: hosts.map((host, i) => ({ seq: seq - hosts.length + 1 + i, op: "put", host })) }),
  };
}

/** The outcome for context `id` among those a delivery returned. */
export function outcomeOf(outcomes: Outcome[], id: number): Outcome | undefined {
  return outcomes.find((o) => o.id === id);
}
