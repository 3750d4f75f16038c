// What the soak watches from outside: nginx's master and workers, the route
// API, and their resident memory, read from /proc.
import { readdirSync, readFileSync } from "node:fs";

/** VmRSS in bytes, or undefined once the process is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const kib = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined; // exited between listing and reading
  }
}

function parentOf(pid: number): number | undefined {
  try {
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

function titleOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "latin1").replaceAll("\0", " ").trim();
  } catch {
    return "";
  }
}

/**
 * The master's worker processes that serve new connections: after a reload, the
 * old generation's titles read "worker process is shutting down" until they exit.
 */
export function currentWorkers(master: number): number[] {
  const workers: number[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || parentOf(pid) !== master) continue;
    const title = titleOf(pid);
    if (title.startsWith("nginx: worker process") && !title.includes("shutting down")) workers.push(pid);
  }
  return workers.sort((a, b) => a - b);
}
