// The filter against the internal API's one contract (api/src/internal-openapi.ts,
// docs/internal-api.md), which api/test/internal-openapi.test.ts checks against the
// real route API: the answers these tests hand the filter are ones the route API
// really gives, and the built filter (build/resolver.wasm) takes every answer the
// contract allows, up to its limits, and refuses what lies beyond them. The numbers
// are written once (`internalLimits`); the filter's own copies in AssemblyScript
// (wasm/src/resolver/answers.ts, lease.ts, config.ts) are checked here by behaviour.
import test from "ava";
import { internalLimits } from "../../api/src/internal-openapi.ts";
import { contractSchema, contractViolation } from "../lib/internal-contract.ts";
import {
  SharedData, changesAnswer, errorAnswer, header, nameAnswer, onlyCall, outcomeOf, request, resolveAnswer, worker,
} from "./_harness.ts";

const ROOT = 1;

test("the /resolve fixtures follow the contract", (t) => {
  const valid = contractSchema("Resolution");
  for (const answer of [
    resolveAnswer("a.example.com", "10.0.0.7:3000"),
    resolveAnswer("shop.example.com", "unix:/run/shop.sock"),
    nameAnswer("named.example.com", "localhost:3000", ["127.0.0.1:3000", "[::1]:3000"], 5_000),
    nameAnswer("broken.example.com", "nothing.invalid:80", [], 5_000, "nothing.invalid does not resolve (ENOTFOUND)"),
  ]) {
    t.true(valid(JSON.parse(answer.body!)), `${answer.body}: ${JSON.stringify(valid.errors)}`);
  }
  for (const status of [404, 400] as const) {
    const answer = errorAnswer(status, "a.example.com");
    t.is(contractViolation("/resolve/a.example.com", status, answer.body!), undefined);
  }
  // ...and the contract is strict enough to refuse what the filter must not trust.
  t.false(valid({ host: "a", backend: "a.b:80", match: "exact", pattern: "a", addresses: ["other.name:80"] }), "a name as an address");
  t.false(valid({ host: "a", backend: "a.b:80", match: "exact", pattern: "a" }), "no addresses");
  t.regex(contractViolation("/resolve/a", 503, "{}") ?? "", /never answers 503/);
});

test("the /changes fixtures follow the contract", (t) => {
  const valid = contractSchema("ChangesPage");
  for (const body of [changesAnswer(12, ["a.com", "*.b.com"]).body!, '{"seq":40,"reset":true}']) {
    t.true(valid(JSON.parse(body)), `${body}: ${JSON.stringify(valid.errors)}`);
  }
  t.false(valid({ seq: 1, changes: [{ seq: 1, op: "move", host: "a" }] }));
});

/** `json` padded with spaces before its closing brace to exactly `size` bytes. */
function padded(json: string, size: number): string {
  const gap = size - Buffer.byteLength(json);
  if (gap < 0) throw new Error(`the answer is already ${Buffer.byteLength(json)} bytes`);
  return `${json.slice(0, -1)}${" ".repeat(gap)}}`;
}

/** The longest address the contract allows: a unix socket path of the most bytes. */
const longestAddress = (n: number) => `unix:/${String(n).padEnd(internalLimits.maxAddressLength - "unix:/".length, "s")}`;

test("the filter takes the largest /resolve answer the contract allows, and nothing beyond it", (t) => {
  const addresses = Array.from({ length: internalLimits.maxAddresses }, (_, i) => longestAddress(i));
  const body = (list: string[]) => JSON.stringify({ host: "big.example.com", backend: addresses[0], match: "exact", pattern: "big.example.com", addresses: list });
  t.is(contractViolation("/resolve/big.example.com", 200, body(addresses)), undefined, "the largest answer is a contract answer");

  const answer = (bodyText: string) => {
    const w = worker(new SharedData());
    const miss = request(w, "big.example.com");
    return outcomeOf(w.deliverHttpCallResponse(onlyCall(miss).token, { status: 200, body: bodyText }), miss.id)!;
  };
  const largest = answer(padded(body(addresses), internalLimits.maxResolveBody));
  t.is(largest.properties.backend, addresses.join(","), "every address, in order, from a body of the largest size");
  t.is(answer(padded(body(addresses), internalLimits.maxResolveBody + 1)).localResponse?.status, 503, "one byte more is a failure");
  const tooMany = [...addresses, "10.0.0.1:80"];
  t.not(contractViolation("/resolve/big.example.com", 200, body(tooMany)), undefined);
  t.is(answer(body(tooMany)).localResponse?.status, 503, "one address more is a failure");
});

test("the filter's feed asks within the contract and takes its largest page", (t) => {
  const w = worker(new SharedData());
  const first = onlyCall(w.tick());
  const query = new URLSearchParams(header(first.headers, ":path")!.split("?")[1]);
  t.is(Number(query.get("since")), internalLimits.maxSince, "a fresh follower asks from the largest seq (a reset at the head)");
  t.true(Number(query.get("wait")) <= internalLimits.maxWaitMs, "the default wait is one the API holds in full");

  // A full page of the longest hosts at the largest seqs the filter reads.
  const host = (i: number) => `${String(i).padStart(4, "0")}.${"h".repeat(63)}.${"o".repeat(63)}.${"s".repeat(63)}.${"t".repeat(56)}`;
  const pageUpTo = (top: number) => {
    const changes = Array.from({ length: internalLimits.changesPage }, (_, i) => ({ seq: top - internalLimits.changesPage + 1 + i, op: "delete", host: host(i) }));
    return JSON.stringify({ seq: top, changes });
  };
  const top = internalLimits.maxSeqTheFilterReads;
  const page = pageUpTo(top);
  t.is(host(0).length, 253);
  t.is(contractViolation("/changes?since=0", 200, page), undefined, "the largest page is a contract answer");

  const deliver = (body: string) => {
    const follower = worker(new SharedData());
    const poll = onlyCall(follower.tick());
    return outcomeOf(follower.deliverHttpCallResponse(poll.token, { status: 200, body }), ROOT)?.httpCalls ?? [];
  };
  const next = deliver(padded(page, internalLimits.maxChangesBody));
  t.is(next.length, 1, "applied: the follower polls again at once");
  t.regex(header(next[0]!.headers, ":path")!, new RegExp(`since=${top}&`));
  t.deepEqual(deliver(padded(page, internalLimits.maxChangesBody + 1)), [], "one byte more is a failure (retried later)");
  // The filter's known limit (docs/internal-api.md): a seq of 16 digits is not read.
  t.deepEqual(deliver(pageUpTo(top + 1)), [], "a seq beyond the filter's reach is a failure");
});
