import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { BackendNames, MAX_ADDRESSES, parseHosts, type NameOptions } from "./names.ts";

// A clock the test moves, and a system resolver the test scripts (the cache logic only;
// the real getaddrinfo path is tested against the service in api/test/lookups.test.ts).
function setup(answers: Record<string, string[] | Error>, options: Partial<NameOptions> = {}) {
  let now = 1_000_000;
  const calls: string[] = [];
  const names = new BackendNames({
    ttlMs: 30_000,
    maxTtlMs: 300_000,
    staleMs: 60_000,
    failureTtlMs: 5_000,
    now: () => now,
    systemLookup: async (name) => {
      calls.push(name);
      const answer = answers[name];
      if (answer === undefined) throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
      if (answer instanceof Error) throw answer;
      return { addresses: answer };
    },
    ...options,
  });
  return { names, calls, advance: (ms: number) => (now += ms) };
}

test("address backends pass through without a lookup", async (t) => {
  const { names, calls } = setup({});
  t.deepEqual(await names.addressesOf("10.0.0.7:3000"), { addresses: ["10.0.0.7:3000"] });
  t.deepEqual(await names.addressesOf("[::1]:80"), { addresses: ["[::1]:80"] });
  t.deepEqual(await names.addressesOf("unix:/run/app.sock"), { addresses: ["unix:/run/app.sock"] });
  t.deepEqual(calls, []);
});

test("a name becomes its addresses with the port, IPv6 in brackets, and a lifetime", async (t) => {
  const { names } = setup({ "app.internal": ["10.0.0.1", "10.0.0.2", "fd00::1"] });
  t.deepEqual(await names.addressesOf("app.internal:8080"), {
    addresses: ["10.0.0.1:8080", "10.0.0.2:8080", "[fd00::1]:8080"],
    ttl_ms: 30_000,
  });
});

test("answers are cached for their lifetime, and concurrent lookups of a name are one", async (t) => {
  const { names, calls, advance } = setup({ "app.internal": ["10.0.0.1"] });
  await Promise.all([names.addressesOf("app.internal:1"), names.addressesOf("app.internal:2")]);
  t.deepEqual(calls, ["app.internal"]);
  advance(29_000);
  t.is((await names.addressesOf("app.internal:1")).ttl_ms, 1_000);
  t.is(calls.length, 1);
  advance(1_000);
  await names.addressesOf("app.internal:1");
  t.is(calls.length, 2);
});

test("a name that does not resolve has no addresses, an error, and is asked again after the failure lifetime", async (t) => {
  const { names, calls, advance } = setup({});
  const answer = await names.addressesOf("gone.invalid:80");
  t.deepEqual(answer, { addresses: [], ttl_ms: 5_000, error: "gone.invalid does not resolve (ENOTFOUND)" });
  await names.addressesOf("gone.invalid:80");
  t.is(calls.length, 1);
  advance(5_000);
  await names.addressesOf("gone.invalid:80");
  t.is(calls.length, 2);
});

test("a name that stops resolving keeps its last addresses for the stale period, then has none", async (t) => {
  const answers: Record<string, string[] | Error> = { "app.internal": ["10.0.0.1"] };
  const { names, advance } = setup(answers);
  await names.addressesOf("app.internal:80");
  answers["app.internal"] = Object.assign(new Error("timeout"), { code: "EAI_AGAIN" });
  advance(30_000);
  const stale = await names.addressesOf("app.internal:80");
  t.deepEqual(stale.addresses, ["10.0.0.1:80"]);
  t.is(stale.ttl_ms, 5_000, "asked again soon while failing");
  advance(30_000); // 60 s since the last confirmation: the stale period is over
  t.deepEqual(await names.addressesOf("app.internal:80"), {
    addresses: [],
    ttl_ms: 5_000,
    error: "app.internal does not resolve (EAI_AGAIN)",
  });
});

test("lifetimes are capped, and at most MAX_ADDRESSES are handed on", async (t) => {
  const many = Array.from({ length: 20 }, (_, i) => `10.0.0.${i + 1}`);
  const { names } = setup({ big: many }, { ttlMs: 10_000, maxTtlMs: 10_000 });
  const answer = await names.addressesOf("big:80");
  t.is(answer.addresses.length, MAX_ADDRESSES);
  t.is(answer.ttl_ms, 10_000);
});

test("the extra hosts file is consulted first and re-read when it changes", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "set-backend-names-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "hosts");
  writeFileSync(file, "127.0.0.2 app.test\n");
  const { names, calls, advance } = setup({ "app.test": ["10.9.9.9"] }, { hostsFile: file });
  t.deepEqual((await names.addressesOf("app.test:80")).addresses, ["127.0.0.2:80"]);
  writeFileSync(file, "# moved\n127.0.0.3 app.test other.test\n");
  advance(30_000);
  t.deepEqual((await names.addressesOf("app.test:80")).addresses, ["127.0.0.3:80"]);
  t.deepEqual(calls, [], "the system resolver was not asked for a name the file has");
});

test("hosts file syntax: comments, aliases, case, IPv4 before IPv6, lines that do not parse skipped", (t) => {
  const names = parseHosts(
    ["# comment", "::1 both.test", "127.0.0.1 Both.Test alias.test. # trailing", "not-an-ip bad.test", "10.0.0.1", ""].join("\n"),
  );
  t.deepEqual(names.get("both.test"), ["127.0.0.1", "::1"]);
  t.deepEqual(names.get("alias.test"), ["127.0.0.1"]);
  t.false(names.has("bad.test"));
});
