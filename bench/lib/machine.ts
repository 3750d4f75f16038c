// What the figures depend on: the machine, how busy it was, and what a process
// holds in memory and on disk. Read from /proc and the file system (Linux).
import { execFileSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { availableParallelism, loadavg, release, totalmem } from "node:os";

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
}

export function describeMachine(): Machine {
  let cpuModel = "unknown";
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (match) cpuModel = match[1]!.trim();
  } catch {
    // Not Linux: the model stays unknown.
  }
  return {
    cpus: availableParallelism(),
    cpuModel,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
  };
}

/** The 1-minute load average, as `uptime` shows it: on a shared machine, the context for every figure. */
export function load1(): number {
  return Math.round(loadavg()[0]! * 100) / 100;
}

/** VmRSS and VmHWM (peak) of a process, in bytes. */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => {
    const match = new RegExp(`^${field}:\\s*(\\d+) kB$`, "m").exec(status);
    if (!match) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(match[1]) * 1024;
  };
  return { rss: kib("VmRSS"), peak: kib("VmHWM") };
}

/** A file's allocated blocks (what `du` counts) and its apparent size (what `ls` shows), in bytes. */
export function diskUsage(path: string): { allocated: number; apparent: number } {
  const stat = statSync(path);
  return { allocated: stat.blocks * 512, apparent: stat.size };
}

let clockTicks: number | undefined;

/** CPU time (user + system) a process has used so far, in ms: contention on a shared machine does not inflate it. */
export function cpuTimeMs(pid: number): number {
  clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name may contain spaces; the fields after it are space-separated.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / clockTicks;
}
