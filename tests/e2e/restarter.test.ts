// make run's restarter (scripts/restarter.ts) on real child processes that exit at
// once: the delay doubles up to its cap, resets after a stable run, and stop()
// ends the restarts.
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import test from "ava";
import { nextDelay, Restarter, type Backoff } from "../../scripts/restarter.ts";
import { until } from "./system.ts";

const backoff: Backoff = { firstMs: 50, maxMs: 200, stableMs: 60_000 };

test("the delay doubles after each quick exit up to its cap and resets after a stable run", (t) => {
  let delay: number | undefined;
  const delays = [];
  for (let i = 0; i < 5; i++) delays.push((delay = nextDelay(delay, 10, backoff)));
  t.deepEqual(delays, [50, 100, 200, 200, 200]);
  t.is(nextDelay(200, 60_000, backoff), 50);
});

test("a child that keeps exiting is restarted with backoff until stop()", async (t) => {
  const start = () => spawn(process.execPath, ["-e", "process.exit(3)"], { stdio: "ignore" });
  const lines: string[] = [];
  let restarts = 0;
  const restarter = new Restarter("child", start(), start, (line) => lines.push(line), () => restarts++, backoff);
  await until(async () => restarts >= 4, "four restarts", 20_000);
  await restarter.stop("SIGTERM");
  const seen = restarts;
  await sleep(500);
  t.is(restarts, seen, "no restart after stop()");
  t.deepEqual(lines.slice(0, 4), [
    "child exited (code 3); restarting it in 0.05 s",
    "child exited (code 3); restarting it in 0.1 s",
    "child exited (code 3); restarting it in 0.2 s",
    "child exited (code 3); restarting it in 0.2 s",
  ]);
});
