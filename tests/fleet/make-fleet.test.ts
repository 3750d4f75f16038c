// `make fleet` (scripts/fleet.ts): the 3-member etcd cluster and two edges come
// up, a write through edge 1 routes on edge 2, every line of output is labelled
// with its process, and SIGINT stops all of it.
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { request } from "../../api/test/fixtures/service-process.ts";
import { requireBuilt, until } from "../lib/edge.ts";
import { requireEtcd } from "../lib/etcd-cluster.ts";
import { startBackend } from "../lib/fleet.ts";
import { canConnect, freePort, send } from "../lib/net.ts";

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A free port whose next one is free too (edges 1 and 2, an etcd member's client and peer). */
async function freePair(taken: number[]): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port < 65535 && !taken.includes(port) && !taken.includes(port + 1) && (await isFree(port + 1))) return port;
  }
}

const refused = async (port: number) => !(await canConnect(port));

test("make fleet: etcd and two edges, labelled output, SIGINT stops everything", async (t) => {
  t.timeout(180_000);
  requireBuilt();
  requireEtcd();
  const stateDir = mkdtempSync(join(tmpdir(), "set-backend-make-fleet-"));
  chmodSync(stateDir, 0o755);
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
  const taken: number[] = [];
  const pick = async () => {
    const port = await freePair(taken);
    taken.push(port, port + 1);
    return port;
  };
  const edgePort = await pick();
  const apiPort = await pick();
  const metricsPort = await pick();
  const etcdPorts = [await pick(), await pick(), await pick()];

  const fleet = spawn(process.execPath, ["--import=tsx", "scripts/fleet.ts"], {
    env: { ...process.env, STATE_DIR: stateDir, FLEET_PORT: String(edgePort), FLEET_API_PORT: String(apiPort), FLEET_METRICS_PORT: String(metricsPort), FLEET_ETCD_PORTS: etcdPorts.join(",") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  fleet.stdout.on("data", (d: Buffer) => (output += d));
  fleet.stderr.on("data", (d: Buffer) => (output += d));
  const exited = new Promise<number | null>((r) => fleet.once("exit", (code) => r(code)));
  t.teardown(() => {
    if (fleet.exitCode === null) fleet.kill("SIGKILL");
  });

  // The output so far goes into the failure: the message is built when the wait gives up, not when it starts.
  await until(() => output.includes("2 edges on one routing table"), "the fleet to start", 120_000).catch((error: Error) => {
    throw new Error(`${error.message}; its output:\n${output.slice(-3000)}`);
  });
  const token = readFileSync(join(stateDir, "fleet", "api-token"), "utf8").trim();
  const backend = await startBackend("app");
  t.teardown(() => backend.close());

  const created = await request({ host: "127.0.0.1", port: edgePort }, "POST", "/entries.json", {
    headers: { Host: "api.localhost", Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ host: "fleet.example.com", backend: backend.address }),
  });
  t.is(created.status, 201, created.body);
  await until(async () => (await send(edgePort + 1, "fleet.example.com")).headers["x-backend"] === "app", "edge 2 to route the write made through edge 1");
  t.like(JSON.parse((await request({ host: "127.0.0.1", port: apiPort + 1 }, "GET", "/healthz")).body), { status: "ok", store: { kind: "etcd" } });

  for (const label of ["[etcd-m1]", "[edge-1 api]", "[edge-2 api]", "[edge-1 nginx]", "[edge-2 nginx]", "[edge-2 access]"]) {
    t.true(output.includes(label), `output labelled ${label}`);
  }

  fleet.kill("SIGINT");
  t.is(await exited, 0, output.slice(-2000));
  for (const port of [edgePort, edgePort + 1, apiPort, apiPort + 1, ...etcdPorts]) t.true(await refused(port), `nothing listens on ${port} any more`);
});
