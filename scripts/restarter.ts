// Keeps one child process running: when it exits it is started again after a
// delay that doubles with each quick exit and returns to the first once a run has
// lasted. `make run` uses it for the route API, whose absence nginx rides out by
// serving cached hosts; a crash loop (bad disk, broken state) backs off instead of
// spinning two cores.
import type { ChildProcess } from "node:child_process";

export interface Backoff {
  firstMs: number;
  maxMs: number;
  /** A run at least this long counts as healthy: the next delay is `firstMs` again. */
  stableMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { firstMs: 500, maxMs: 30_000, stableMs: 60_000 };

/** The delay before the next start, given the previous delay (none yet) and how long the last run lasted. */
export function nextDelay(previousMs: number | undefined, ranMs: number, backoff: Backoff): number {
  if (previousMs === undefined || ranMs >= backoff.stableMs) return backoff.firstMs;
  return Math.min(previousMs * 2, backoff.maxMs);
}

export class Restarter {
  #child: ChildProcess;
  #timer: NodeJS.Timeout | undefined;
  #delay: number | undefined;
  #stopped = false;

  /**
   * Watches `first` (already started); `start` starts a replacement; `onRestart`
   * hears of each replacement, `log` gets one line per exit.
   */
  constructor(
    private readonly name: string,
    first: ChildProcess,
    private readonly start: () => ChildProcess,
    private readonly log: (line: string) => void,
    private readonly onRestart: (child: ChildProcess) => void = () => {},
    private readonly backoff: Backoff = DEFAULT_BACKOFF,
  ) {
    this.#child = first;
    this.#watch(first, Date.now());
  }

  get child(): ChildProcess {
    return this.#child;
  }

  #watch(child: ChildProcess, started: number): void {
    child.once("exit", (code, signal) => {
      if (this.#stopped) return;
      const delay = nextDelay(this.#delay, Date.now() - started, this.backoff);
      this.#delay = delay;
      this.log(`${this.name} exited (${signal ?? `code ${code}`}); restarting it in ${delay / 1000} s`);
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#child = this.start();
        this.#watch(this.#child, Date.now());
        this.onRestart(this.#child);
      }, delay);
    });
  }

  /** No more restarts; sends `signal` to the running child, resolves once it has exited. */
  stop(signal: NodeJS.Signals): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill(signal);
    return exited;
  }
}
