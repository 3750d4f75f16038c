// What a worker's resident memory is made of, from /proc/PID/smaps: the
// mappings grouped by what they hold. Resident bytes only (what RSS counts);
// shared pages (the zones, file-backed code) are counted in every process that
// touched them, as RSS does.
import { readFileSync } from "node:fs";

export const MEMORY_PARTS = [
  "program + system libraries (code, data)",
  "set_backend module (code, data)",
  "filter code (wasmtime JIT)",
  "filter linear memory",
  "shared zones (touched pages)",
  "malloc heap and other anonymous",
  "other",
] as const;
export type MemoryPart = (typeof MEMORY_PARTS)[number];

const GIB = 2 ** 30;

function partOf(path: string, perms: string): MemoryPart {
  if (path.includes("ngx_http_set_backend")) return "set_backend module (code, data)";
  if (path === "/dev/zero (deleted)" || path.startsWith("/SYSV")) return "shared zones (touched pages)";
  // wasmtime's copy-on-write image of the filter's initial memory.
  if (path.startsWith("/memfd:wasm-memory-image")) return "filter linear memory";
  if (path.startsWith("/")) return "program + system libraries (code, data)";
  if (path === "" || path === "[heap]") {
    if (perms.includes("x")) return "filter code (wasmtime JIT)";
    return "malloc heap and other anonymous";
  }
  return "other";
}

export interface WorkerMemory {
  /** Resident bytes by part. */
  parts: Record<MemoryPart, number>;
  /** Resident bytes no other process shares (Private_Clean + Private_Dirty): what one more worker costs. */
  private: number;
}

/** Resident bytes by part, from the text of /proc/PID/smaps. */
export function breakdown(smaps: string): WorkerMemory {
  const parts = Object.fromEntries(MEMORY_PARTS.map((p) => [p, 0])) as Record<MemoryPart, number>;
  let own = 0;
  let current: MemoryPart = "other";
  // wasmtime maps a linear memory as its accessible pages followed by an
  // inaccessible reservation of gigabytes (growth room and guard region).
  let previous: { end: number; rss: number; part: MemoryPart } = { end: -1, rss: 0, part: current };
  for (const line of smaps.split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const start = parseInt(head[1]!, 16);
      const end = parseInt(head[2]!, 16);
      if (head[3] === "---p" && end - start >= GIB && previous.end === start && previous.part === "malloc heap and other anonymous") {
        parts[previous.part] -= previous.rss;
        parts["filter linear memory"] += previous.rss;
      }
      current = partOf(head[4]!.trim(), head[3]!);
      previous = { end, rss: 0, part: current };
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB$/.exec(line);
    if (rss) {
      parts[current] += Number(rss[1]) * 1024;
      previous.rss = Number(rss[1]) * 1024;
    }
    const priv = /^Private_(?:Clean|Dirty):\s+(\d+) kB$/.exec(line);
    if (priv) own += Number(priv[1]) * 1024;
  }
  return { parts, private: own };
}

export function memoryBreakdown(pid: number): WorkerMemory | undefined {
  try {
    return breakdown(readFileSync(`/proc/${pid}/smaps`, "utf8"));
  } catch {
    return undefined;
  }
}
