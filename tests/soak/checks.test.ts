// The soak's own judgements, on made-up inputs: a staleness measure that
// catches an old route, and a growth check that catches a leak.
import test from "ava";
import { growth, type MemorySample } from "./memory.ts";
import { RouteHistory } from "./traffic.ts";

const MiB = 1024 * 1024;
const samples = (rss: (i: number) => number): MemorySample[] =>
  Array.from({ length: 90 }, (_, i) => ({ t: i, master: rss(i), workerMax: rss(i), workerSum: rss(i), api: rss(i), zoneEntries: 0, evictions: 0, failures: 0, load: 0 }));

test("memory that levels off passes; memory that keeps growing fails", (t) => {
  // Up for the first third (warm-up), then flat with noise.
  t.true(growth(samples((i) => (Math.min(i, 30) + (i % 3)) * MiB), "api").ok);
  // 0.5 MiB more every second: 45 MiB in the middle third, 60 in the last.
  const leak = growth(samples((i) => 100 * MiB + i * MiB), "api");
  t.false(leak.ok, `${leak.lastMax / MiB} MiB against a limit of ${leak.limit / MiB}`);
});

test("an answer's staleness: the route in force, one being replaced, one replaced long ago, one never given", (t) => {
  const history = new RouteHistory("a");
  const b = history.send("b", 1000);
  b.ackedAt = 1010;
  const c = history.send(null, 5000);
  // In flight: both the old and the new route are right.
  t.is(history.staleness("b", 5001, 5002), 0);
  t.is(history.staleness(null, 5001, 5002), 0);
  c.ackedAt = 5010;
  t.is(history.staleness(null, 6000, 6001), 0);
  t.is(history.staleness("b", 6000, 6001), 990, "b was replaced by the DELETE acknowledged at 5010");
  t.is(history.staleness("a", 6000, 6001), 4990);
  t.is(history.staleness("z", 6000, 6001), Infinity);
  // A change sent after the request ended cannot explain its answer.
  t.is(history.staleness(null, 900, 950), Infinity);
  history.prune(5500);
  t.is(history.staleness("b", 6000, 6001), Infinity, "pruned: older than any bound");
});
