// A whole fleet for tests: a 3-member etcd cluster, two edges (route API in
// etcd mode + nginx each) and backends that say who they are, all on loopback.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { TestFn } from "ava";
import { requireBuilt, startEdge, type Edge } from "./edge.ts";
import { startEtcdCluster, type EtcdCluster } from "./etcd-cluster.ts";

export interface Backend {
  name: string;
  address: string;
  close(): Promise<void>;
}

/** An HTTP backend that answers every request with X-Backend: <name>. */
export async function startBackend(name: string): Promise<Backend> {
  const server = http.createServer((_req, res) => {
    res.setHeader("X-Backend", name);
    res.end(name);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    name,
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

export interface Fleet {
  cluster: EtcdCluster;
  a: Edge;
  b: Edge;
  backends: Backend[];
  stop(): Promise<void>;
}

/**
 * Starts the fleet. `endpointsOfB` lets a test put something (a cuttable link)
 * between edge B and etcd; by default both edges talk to every member directly.
 */
export async function startFleet(options: { endpointsOfB?: (cluster: EtcdCluster) => Promise<string>; env?: Record<string, string> } = {}): Promise<Fleet> {
  const cluster = await startEtcdCluster(3);
  const started: Edge[] = [];
  const backends: Backend[] = [];
  try {
    backends.push(await startBackend("one"), await startBackend("two"));
    const a = await startEdge({ name: "edge-a", endpoints: cluster.endpoints, env: options.env });
    started.push(a);
    const endpointsOfB = options.endpointsOfB ? await options.endpointsOfB(cluster) : cluster.endpoints;
    const b = await startEdge({ name: "edge-b", endpoints: endpointsOfB, env: options.env });
    started.push(b);
    return {
      cluster,
      a,
      b,
      backends,
      async stop() {
        await Promise.all(started.map((edge) => edge.stop()));
        await Promise.all(backends.map((backend) => backend.close()));
        await cluster.stop();
      },
    };
  } catch (error) {
    await Promise.all(started.map((edge) => edge.stop()));
    await Promise.all(backends.map((backend) => backend.close()));
    await cluster.stop();
    throw error;
  }
}

/**
 * One fleet for every test of a file: started (the build checked first) before
 * them, stopped after them. Returns the running fleet for the tests to use.
 */
export function fleetForFile(test: TestFn): () => Fleet {
  let fleet: Fleet | undefined;
  test.before(async () => {
    requireBuilt();
    fleet = await startFleet();
  });
  test.after.always(async () => {
    await fleet?.stop();
  });
  return () => {
    if (!fleet) throw new Error("the fleet did not start");
    return fleet;
  };
}
