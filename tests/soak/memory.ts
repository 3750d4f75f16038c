// Resident memory over a soak: one sample a second of nginx's master, its
// current workers and the route API, a curve to print, and the growth check.

export interface MemorySample {
  /** Seconds since the timed run began. */
  t: number;
  master: number;
  /** The largest current worker, and all current workers together. */
  workerMax: number;
  workerSum: number;
  api: number;
  zoneEntries: number;
  evictions: number;
  /** Failed requests and changes so far, and the machine's 1-minute load average: what else the slice saw. */
  failures: number;
  load: number;
}

export type Series = "master" | "workerMax" | "workerSum" | "api";
export const SERIES: Series[] = ["master", "workerMax", "workerSum", "api"];

const MiB = 1024 * 1024;
const mib = (bytes: number) => (bytes / MiB).toFixed(1);

export interface Growth {
  series: Series;
  middleMax: number;
  lastMax: number;
  limit: number;
  ok: boolean;
}

/**
 * Memory that stops growing: the last third's peak stays within `factor` × the
 * middle third's peak + `slackBytes`. The first third is warm-up (the zone is
 * full before the timed run starts, but allocators and V8's heap settle later).
 */
export function growth(samples: MemorySample[], series: Series, factor = 1.15, slackBytes = 4 * MiB): Growth {
  const third = Math.floor(samples.length / 3);
  const peak = (part: MemorySample[]) => Math.max(...part.map((s) => s[series]));
  const middleMax = peak(samples.slice(third, 2 * third));
  const lastMax = peak(samples.slice(2 * third));
  const limit = middleMax * factor + slackBytes;
  return { series, middleMax, lastMax, limit, ok: lastMax <= limit };
}

export function describeGrowth(g: Growth): string {
  return `${g.series}: last third peak ${mib(g.lastMax)} MiB, middle third peak ${mib(g.middleMax)} MiB, limit ${mib(g.limit)} MiB`;
}

/** The curve as a table of `rows` time slices, each with its peaks (MiB), the failures in it and the load. */
export function curve(samples: MemorySample[], rows = 10): string {
  const lines = ["   t (s) | master | worker max | workers sum |   API | zone entries | evictions | failed | load"];
  const size = Math.max(1, Math.ceil(samples.length / rows));
  let failuresBefore = 0;
  for (let i = 0; i < samples.length; i += size) {
    const slice = samples.slice(i, i + size);
    const peak = (s: Series) => mib(Math.max(...slice.map((x) => x[s])));
    const last = slice.at(-1)!;
    const cells = [
      String(Math.round(last.t)).padStart(8),
      peak("master").padStart(6),
      peak("workerMax").padStart(10),
      peak("workerSum").padStart(11),
      peak("api").padStart(5),
      String(last.zoneEntries).padStart(12),
      String(last.evictions).padStart(9),
      String(last.failures - failuresBefore).padStart(6),
      Math.max(...slice.map((x) => x.load)).toFixed(1),
    ];
    failuresBefore = last.failures;
    lines.push(cells.join(" | "));
  }
  return lines.join("\n");
}
