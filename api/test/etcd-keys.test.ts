// The key layout in etcd: what each key of a generation is, and range ends.
import test from "ava";
import { EtcdKeys, newGeneration, prefixEnd } from "../src/etcd-keys.ts";

const keys = new EtcdKeys("/set-backend/");

test("routes, stamp and switch marker of a generation", (t) => {
  t.is(keys.pointer, "/set-backend/current");
  t.is(keys.route("g1", "*.example.com"), "/set-backend/gen/g1/*.example.com");
  t.deepEqual(keys.classify("g1", keys.route("g1", "*.example.com")), { kind: "route", host: "*.example.com" });
  t.deepEqual(keys.classify("g1", keys.route("g1", "*")), { kind: "route", host: "*" });
  t.deepEqual(keys.classify("g1", keys.stamp("g1")), { kind: "stamp" });
  t.deepEqual(keys.classify("g1", keys.next("g1")), { kind: "next" });
  t.deepEqual(keys.classify("g1", keys.route("g2", "a.com")), { kind: "other" });
  t.deepEqual(keys.classify("g1", keys.pointer), { kind: "other" });
  t.deepEqual(keys.classify("g1", "/set-backend/gen/g1/!unknown"), { kind: "other" });
});

test("the markers sort inside the generation's range, before every host", (t) => {
  const prefix = keys.generationPrefix("g1");
  const end = prefixEnd(prefix).toString();
  for (const key of [keys.stamp("g1"), keys.next("g1"), keys.route("g1", "*"), keys.route("g1", "0.com"), keys.route("g1", "zz.com")]) {
    t.true(key >= prefix && key < end, key);
  }
  t.true(keys.next("g1") < keys.route("g1", "*"));
  // A longer generation name is not inside a shorter one's range.
  t.false(keys.route("g10", "a.com") < end && keys.route("g10", "a.com") >= prefix);
});

test("prefixEnd increments the last byte that can be", (t) => {
  t.deepEqual(prefixEnd("/a/"), Buffer.from("/a0"));
  t.deepEqual(prefixEnd("ab"), Buffer.from("ac"));
  t.deepEqual(prefixEnd(""), Buffer.from([0]));
});

test("generation names are unique, sortable by time and path-safe", (t) => {
  const a = newGeneration(1_000_000, 0.1);
  const b = newGeneration(2_000_000, 0.1);
  t.true(a < b);
  t.not(newGeneration(1_000_000, 0.1), newGeneration(1_000_000, 0.2));
  t.regex(newGeneration(), /^[0-9a-z]{9}-[0-9a-z]{6}$/);
});
