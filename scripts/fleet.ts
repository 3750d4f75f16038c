// `make fleet`: a local fleet in the foreground — a 3-member etcd cluster and
// N edges (route API in etcd mode + nginx each, default 2), all on loopback,
// state under $STATE_DIR/fleet. Every line of output is labelled with the
// process it came from. Ctrl-C or SIGTERM stops all of it.
//
// An etcd member that exits is reported and the fleet goes on (kill one to see
// the others carry on; `make fleet` again restarts it on its data). An edge's
// route API or nginx exiting stops everything, as in `make run`.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { ETCD, ETCDCTL, etcdMembers } from "./etcd-members.ts";
import { defaultFilter, defaultModule, root, writeNginxConf } from "./nginx-conf.ts";

const env = process.env;
const stateDir = resolve(env.STATE_DIR || join(root, ".run"), "fleet");
const domain = env.DOMAIN || "localhost";
const edgeCount = Number(env.FLEET_EDGES || "2");
const firstPort = Number(env.FLEET_PORT || "8081");
const firstApiPort = Number(env.FLEET_API_PORT || "9001");
// Each edge's loopback listener of its nginx metrics (set_backend_metrics).
const firstMetricsPort = Number(env.FLEET_METRICS_PORT || "9145");
// Client ports of the three members, each member's peer port one above: etcd's
// convention for a local cluster (2379, 22379, 32379), moved off 2379, where
// Debian's etcd-server package starts a system etcd.
const etcdClientPorts = (env.FLEET_ETCD_PORTS || "12379,22379,32379").split(",").map(Number);

function fail(message: string): never {
  process.stderr.write(`make fleet: ${message}\n`);
  process.exit(1);
}

if (!/^[A-Za-z0-9.-]+$/.test(domain)) fail(`DOMAIN must be a DNS name, got ${JSON.stringify(domain)}`);
if (!Number.isInteger(edgeCount) || edgeCount < 1 || edgeCount > 9) fail(`FLEET_EDGES must be 1 to 9, got ${JSON.stringify(env.FLEET_EDGES)}`);
for (const [name, port] of [["FLEET_PORT", firstPort], ["FLEET_API_PORT", firstApiPort], ["FLEET_METRICS_PORT", firstMetricsPort]] as const) {
  if (!Number.isInteger(port) || port < 1 || port + edgeCount - 1 > 65535) fail(`${name} must be a port, got ${JSON.stringify(env[name])}`);
}
if (etcdClientPorts.length !== 3 || !etcdClientPorts.every((p) => Number.isInteger(p) && p >= 1 && p < 65535)) {
  fail(`FLEET_ETCD_PORTS must be three client ports, e.g. 12379,22379,32379, got ${JSON.stringify(env.FLEET_ETCD_PORTS)}`);
}
for (const file of [ETCD, ETCDCTL, defaultModule, defaultFilter]) {
  if (!existsSync(file)) fail(`${file} is missing (make fleet installs etcd and builds the module first)`);
}

const children: { label: string; child: ChildProcess; fatal: boolean }[] = [];
let stopping = false;

// Every line a process writes, prefixed with its label.
function label(name: string, stream: NodeJS.ReadableStream | null): void {
  if (!stream) return;
  const tag = `[${name}]`.padEnd(16);
  createInterface({ input: stream }).on("line", (line) => process.stdout.write(`${tag} ${line}\n`));
}

function start(name: string, command: string, args: string[], options: { env?: NodeJS.ProcessEnv; fatal: boolean }): ChildProcess {
  const child = spawn(command, args, { env: options.env ?? env, stdio: ["ignore", "pipe", "pipe"] });
  label(name, child.stdout);
  label(name, child.stderr);
  children.push({ label: name, child, fatal: options.fatal });
  child.once("exit", (code, signal) => {
    if (stopping) return;
    process.stderr.write(`make fleet: ${name} exited (${signal ?? code})${options.fatal ? "; stopping everything" : "; the fleet goes on without it"}\n`);
    if (options.fatal) stopAll(1);
  });
  return child;
}

function stopAll(code: number): void {
  if (stopping) return;
  stopping = true;
  void (async () => {
    // The edges first (nginx stops taking requests, the route APIs drain),
    // then etcd. etcd's write-ahead log is synced before it acknowledges, so a
    // member that takes long to stop without its peers is killed after 5 s.
    await stopGroup(children.filter((c) => !c.label.startsWith("etcd")), 15_000);
    await stopGroup(children.filter((c) => c.label.startsWith("etcd")), 5_000);
    process.exit(code);
  })();
}

async function stopGroup(group: typeof children, graceMs: number): Promise<void> {
  const running = group.map(({ child }) => child).filter((child) => child.exitCode === null && child.signalCode === null);
  const exited = running.map((child) => new Promise((r) => child.once("exit", r)));
  for (const child of running) child.kill("SIGTERM");
  const force = setTimeout(() => running.forEach((child) => child.exitCode === null && child.kill("SIGKILL")), graceMs);
  await Promise.all(exited);
  clearTimeout(force);
}

process.on("SIGINT", () => stopAll(0));
process.on("SIGTERM", () => stopAll(0));

function waitForSocket(path: string, child: ChildProcess, what: string): Promise<void> {
  return new Promise((ready, reject) => {
    const started = Date.now();
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`${what} exited during start-up`));
      const socket = connect(path);
      socket.once("connect", () => {
        socket.destroy();
        ready();
      });
      socket.once("error", () => {
        if (Date.now() - started > 60_000) reject(new Error(`${what} did not open ${path} within 60 s`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

mkdirSync(stateDir, { recursive: true, mode: 0o755 });

// One token for every edge: any API node takes any write.
const tokenFile = join(stateDir, "api-token");
if (!env.API_TOKEN && !existsSync(tokenFile)) {
  writeFileSync(tokenFile, `${randomBytes(24).toString("hex")}\n`, { mode: 0o600 });
  process.stderr.write(`\nAPI token generated and saved to ${tokenFile}:\n\n    ${readFileSync(tokenFile, "utf8").trim()}\n\n`);
}

// The etcd cluster. On a second start the members find their data and rejoin.
const members = etcdMembers(join(stateDir, "etcd"), etcdClientPorts.flatMap((port) => [port, port + 1]), "set-backend-fleet");
for (const member of members) {
  // Without compaction etcd keeps every revision forever; an hour of history is
  // plenty for an edge to resume its watch after a short absence.
  start(`etcd-${member.name}`, ETCD, [...member.args, "--auto-compaction-mode=periodic", "--auto-compaction-retention=1h"], { fatal: false });
}
const endpoints = members.map((m) => m.clientUrl).join(",");
for (let waited = 0; ; waited += 250) {
  const probe = spawnSync(ETCDCTL, [`--endpoints=${endpoints}`, "--command-timeout=2s", "endpoint", "health"], { env: { ...env, ETCDCTL_API: "3" } });
  if (probe.status === 0) break;
  if (waited > 60_000) {
    process.stderr.write(`make fleet: etcd did not become healthy within 60 s:\n${probe.stderr}\n`);
    stopAll(1);
    await new Promise(() => {});
  }
  await sleep(250);
}
process.stderr.write(`make fleet: etcd cluster up on ${endpoints}\n`);

for (let i = 1; i <= edgeCount; i++) {
  const edgeDir = join(stateDir, `edge-${i}`);
  mkdirSync(edgeDir, { recursive: true, mode: 0o755 });
  const apiListen = `127.0.0.1:${firstApiPort + i - 1}`;
  const port = String(firstPort + i - 1);
  const metricsPort = firstMetricsPort + i - 1;
  const resolverSocket = join(edgeDir, "resolver.sock");
  const api = start(`edge-${i} api`, process.execPath, ["--import=tsx", join(root, "api/src/main.ts")], {
    env: {
      ...env,
      STATE_DIR: edgeDir,
      API_LISTEN: apiListen,
      DOMAIN: domain,
      ROUTE_STORE: "etcd",
      EDGE_METRICS_URL: `http://127.0.0.1:${metricsPort}/metrics`,
      ETCD_ENDPOINTS: endpoints,
      ...(env.API_TOKEN ? {} : { API_TOKEN_FILE: tokenFile }),
    },
    fatal: true,
  });
  try {
    await waitForSocket(resolverSocket, api, `edge-${i}'s route API`);
  } catch (error) {
    process.stderr.write(`make fleet: ${(error as Error).message}\n`);
    stopAll(1);
    await new Promise(() => {});
  }
  // nginx's access log goes through a FIFO that is labelled like every other output.
  const accessLog = join(edgeDir, "access.log.pipe");
  rmSync(accessLog, { force: true });
  const mkfifo = spawnSync("mkfifo", ["-m", "0600", accessLog]);
  if (mkfifo.status !== 0) fail(`cannot create ${accessLog}: ${mkfifo.stderr}`);
  label(`edge-${i} access`, createReadStream(accessLog));
  const args = writeNginxConf({ accessLog, stateDir: edgeDir, listen: port, metricsPort, domain, apiListen, resolverSocket });
  start(`edge-${i} nginx`, "/usr/sbin/nginx", args, { fatal: true });
  process.stderr.write(`make fleet: edge-${i} on port ${port} (api.${domain} is its route API, ${apiListen} directly), state in ${edgeDir}\n`);
}
process.stderr.write(`make fleet: ${edgeCount} edges on one routing table; Ctrl-C stops everything\n`);
