// Waiting for something to become true, for every test and benchmark helper: poll,
// never sleep a fixed time.
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Polls `check` every `everyMs` until it holds and returns the milliseconds that
 * took (from the call, so a caller can assert how fast something happened). A
 * check that throws counts as "not yet"; after `ms` the wait fails with `what`
 * and the last error.
 */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 10_000,
  everyMs = 50,
): Promise<number> {
  const started = Date.now();
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return Date.now() - started;
    } catch (error) {
      last = error;
    }
    if (Date.now() - started > ms) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`);
    }
    await sleep(everyMs);
  }
}
