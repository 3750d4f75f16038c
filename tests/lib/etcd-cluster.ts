// A real etcd cluster for tests: N members of Debian's etcd on free loopback
// ports, data in a temporary directory, members that can be killed and started
// again on the same data, and etcdctl for what an operator would do (compact).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ETCD, ETCDCTL, etcdMembers, type EtcdMember } from "../../scripts/etcd-members.ts";
import { freePort } from "./net.ts";
import { until } from "./wait.ts";

export interface EtcdCluster {
  dir: string;
  members: EtcdMember[];
  /** Comma-separated client URLs, as ETCD_ENDPOINTS takes them. */
  endpoints: string;
  /** SIGKILLs member i (0-based); waits until it is gone. */
  kill(i: number): Promise<void>;
  /** Starts member i again on its data directory (nothing if it runs). */
  start(i: number): Promise<void>;
  /** etcdctl against the members that are running; throws on a non-zero exit. */
  ctl(...args: string[]): string;
  /** The index of the member that is Raft leader now. */
  leader(): number;
  /** Waits until the cluster answers a linearizable read (it has a leader and quorum). */
  waitHealthy(ms?: number): Promise<void>;
  stop(): Promise<void>;
}

export function requireEtcd(): void {
  if (!existsSync(ETCD) || !existsSync(ETCDCTL)) throw new Error(`${ETCD} or ${ETCDCTL} is missing: run scripts/system-deps.sh etcd-server etcd-client`);
}

export interface ClusterOptions {
  /** Client TLS (PEM file paths): members require client certificates signed by `ca`. */
  tls?: { ca: string; cert: string; key: string };
  /** etcdctl's flags for it (e.g. --cacert, --cert, --key, --user). */
  ctlFlags?: string[];
}

export async function startEtcdCluster(size = 3, options: ClusterOptions = {}): Promise<EtcdCluster> {
  requireEtcd();
  const dir = mkdtempSync(join(tmpdir(), "set-backend-etcd-"));
  const ports: number[] = [];
  while (ports.length < size * 2) {
    const port = await freePort();
    if (!ports.includes(port)) ports.push(port);
  }
  const members = etcdMembers(dir, ports, `test-${process.pid}-${Date.now()}`, options.tls);
  const processes: (ChildProcess | undefined)[] = [];
  const output: string[] = members.map(() => "");
  const running = () => members.filter((_, i) => processes[i] && processes[i]!.exitCode === null && processes[i]!.signalCode === null);

  const launch = (i: number) => {
    const member = members[i]!;
    const child = spawn(ETCD, member.args, { stdio: ["ignore", "pipe", "pipe"] });
    const keep = (d: Buffer) => (output[i] = (output[i]! + d.toString()).slice(-8192));
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    processes[i] = child;
  };

  const cluster: EtcdCluster = {
    dir,
    members,
    endpoints: members.map((m) => m.clientUrl).join(","),
    async kill(i) {
      const child = processes[i];
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await gone;
    },
    async start(i) {
      const child = processes[i];
      if (child && child.exitCode === null && child.signalCode === null) return;
      launch(i);
    },
    ctl(...args) {
      const endpoints = running().map((m) => m.clientUrl).join(",");
      const result = spawnSync(ETCDCTL, [`--endpoints=${endpoints}`, "--command-timeout=10s", ...(options.ctlFlags ?? []), ...args], {
        env: { ...process.env, ETCDCTL_API: "3" },
        encoding: "utf8",
        // A table of 100,000 routes is ~15 MB of JSON.
        maxBuffer: 512 * 1024 * 1024,
      });
      if (result.status !== 0) throw new Error(`etcdctl ${args.join(" ")} failed: ${result.error ?? result.stderr}`);
      return result.stdout;
    },
    leader() {
      const statuses = JSON.parse(cluster.ctl("endpoint", "status", "-w", "json")) as {
        Endpoint: string;
        Status: { header: { member_id: number | string }; leader: number | string };
      }[];
      const leader = statuses.find((s) => String(s.Status.header.member_id) === String(s.Status.leader));
      const index = members.findIndex((m) => m.clientUrl === leader?.Endpoint);
      if (index < 0) throw new Error(`no leader among ${JSON.stringify(statuses)}`);
      return index;
    },
    async waitHealthy(ms = 60_000) {
      const healthy = () => {
        cluster.ctl("get", "--consistency=l", "health-probe"); // throws until a quorum answers
        return true;
      };
      try {
        await until(healthy, "etcd to become healthy", ms, 200);
      } catch (error) {
        throw new Error(`${(error as Error).message}\n${output.join("\n---\n")}`);
      }
    },
    async stop() {
      await Promise.all(members.map((_, i) => cluster.kill(i)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  members.forEach((_, i) => launch(i));
  await cluster.waitHealthy();
  return cluster;
}
