// Where a worker's time goes: `perf record` (software cpu-clock: this VM has no
// hardware counters) on the single worker of a setup while wrk loads it, then
// `perf report` by shared object and by symbol. Run with BENCH_PROFILE=1.
import { execFileSync, spawn } from "node:child_process";
import { join } from "node:path";
import { FRONT, type Paths, type Setup } from "./configs.ts";
import { startHaproxy, startNginx } from "./procs.ts";
import { haproxyConf, nginxConf } from "./configs.ts";
import { wrk } from "./wrk.ts";

export async function profile(setups: Setup[], paths: Paths, seconds: number, warm: (s: Setup) => Promise<void>): Promise<string> {
  let out = "";
  for (const setup of setups) {
    const server =
      setup.kind === "haproxy"
        ? await startHaproxy(paths.dir, "haproxy", haproxyConf(1, paths), FRONT)
        : await startNginx(paths.dir, `front-${setup.id}`, nginxConf(setup.id, 1, paths), FRONT);
    try {
      await warm(setup);
      const worker = server.workers()[0]!;
      // BENCH_PERF_DIR keeps the recordings for a closer look (perf report -i … -g caller).
      const data = join(process.env.BENCH_PERF_DIR ?? paths.dir, `perf-${setup.id}.data`);
      const perf = spawn("perf", ["record", "-q", "-e", "cpu-clock", "-F", "4000", ...(process.env.BENCH_PERF_DWARF === "1" ? ["--call-graph", "dwarf,16384"] : ["-g"]), "-p", String(worker), "-o", data, "--", "sleep", String(seconds - 1)], { stdio: "ignore" });
      const exited = new Promise((resolve) => perf.once("exit", resolve));
      const r = await wrk({ port: FRONT, seconds });
      await exited;
      const report = (sort: string, limit: string, userOnly = false) =>
        execFileSync("perf", ["report", "-i", data, "--no-children", "--stdio", "-g", "none", "--sort", sort, "--percent-limit", limit], { encoding: "utf8", maxBuffer: 64 << 20, timeout: 120_000 })
          .split("\n")
          .filter((l) => l.trim() && !l.startsWith("#") && !(userOnly && l.includes("[k]")))
          .join("\n");
      out += `\n## ${setup.label}: ${Math.round(r.rps)} req/s under perf\n\n### by shared object\n${report("dso", "0.5")}\n\n### by symbol (≥ 0.7%)\n${report("dso,sym", "0.7")}\n\n### user-space symbols (≥ 0.15%)\n${report("dso,sym", "0.15", true)}\n`;
    } finally {
      await server.stop();
    }
  }
  return out;
}
