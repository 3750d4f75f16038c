// The routing table as etcd holds it, read with etcdctl (not with the route
// API's own code): the current generation's routes, host → backend.
import type { EtcdCluster } from "./etcd-cluster.ts";

interface EtcdctlGet {
  header: { revision: number };
  kvs?: { key: string; value: string }[];
}

const decode = (base64: string) => Buffer.from(base64, "base64").toString();

export function etcdRevision(cluster: EtcdCluster): number {
  return (JSON.parse(cluster.ctl("get", "health-probe", "-w", "json")) as EtcdctlGet).header.revision;
}

export function etcdTable(cluster: EtcdCluster, prefix = "/set-backend/"): Map<string, string> {
  const pointer = JSON.parse(cluster.ctl("get", `${prefix}current`, "-w", "json")) as EtcdctlGet;
  const generation = decode(pointer.kvs![0]!.value);
  const genPrefix = `${prefix}gen/${generation}/`;
  const routes = JSON.parse(cluster.ctl("get", "--prefix", genPrefix, "-w", "json")) as EtcdctlGet;
  const table = new Map<string, string>();
  for (const kv of routes.kvs ?? []) {
    const host = decode(kv.key).slice(genPrefix.length);
    if (!host.startsWith("!")) table.set(host, decode(kv.value));
  }
  return table;
}
