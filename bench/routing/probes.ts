// Request-level probes that wrk cannot make: the latency of each host's first
// request (the miss path), and how long a route change takes to reach traffic.
import http from "node:http";
import { setTimeout as sleep } from "node:timers/promises";

export interface Answer {
  status: number;
  body: string;
}

export function get(port: number, host: string, agent: http.Agent | false = false, timeoutMs = 10_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: "/", headers: { Host: host }, agent }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer for ${host} within ${timeoutMs / 1000} s`)));
    req.on("error", reject);
    req.end();
  });
}

/** Each host once, one after the other on one keep-alive connection; ms per request. */
export async function sequentialLatencies(port: number, hosts: string[]): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  try {
    for (const host of hosts) {
      const t0 = performance.now();
      const answer = await get(port, host, agent);
      times.push(performance.now() - t0);
      if (answer.status !== 200) throw new Error(`${host}: status ${answer.status} ${answer.body.slice(0, 200)}`);
    }
  } finally {
    agent.destroy();
  }
  return times;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

export interface Propagation {
  /** ms from the change's acknowledgement to the first request answered by the new backend. */
  firstMs: number;
  /** ms to the first of CONSECUTIVE requests in a row, each on a new connection (any worker), that all reach it. */
  allMs: number;
}

const CONSECUTIVE = 20;

/**
 * Applies `change` (it resolves when the system acknowledged it), then polls
 * with a request every `everyMs` on a fresh connection until `expected` answers.
 */
export async function propagation(port: number, host: string, expected: string, change: () => Promise<void>, maxMs: number, everyMs = 2): Promise<Propagation> {
  await change();
  const t0 = performance.now();
  let firstMs = Number.NaN;
  let streak = 0;
  let streakStart = 0;
  while (performance.now() - t0 < maxMs) {
    const answer = await get(port, host).catch(() => ({ status: 0, body: "" }));
    const now = performance.now() - t0;
    if (answer.status === 200 && answer.body === expected) {
      if (Number.isNaN(firstMs)) firstMs = now;
      if (streak++ === 0) streakStart = now;
      if (streak >= CONSECUTIVE) return { firstMs, allMs: streakStart };
    } else {
      streak = 0;
    }
    await sleep(everyMs);
  }
  throw new Error(`${host} did not reach the new backend within ${maxMs} ms`);
}
