// The command lines of a local etcd cluster on loopback ports: `make fleet` and
// the fleet tests start their members from here, so both run the same cluster.
import { join } from "node:path";

export const ETCD = process.env.ETCD_BIN || "/usr/bin/etcd";
export const ETCDCTL = process.env.ETCDCTL_BIN || "/usr/bin/etcdctl";

export interface EtcdMember {
  name: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  /** http://127.0.0.1:<clientPort> */
  clientUrl: string;
  args: string[];
}

/**
 * Members m1…mN with data under `dir`. `ports` holds two per member (client,
 * peer). Timing is a little relaxed from etcd's defaults (100 ms heartbeat,
 * 1 s election) so that a loaded two-core machine does not hold elections for
 * nothing, while a lost leader is still replaced in about 2-3 s, well inside a
 * write's ETCD_TIMEOUT_MS. On real hardware etcd's defaults are right.
 */
export function etcdMembers(dir: string, ports: number[], token: string, tls?: { ca: string; cert: string; key: string }): EtcdMember[] {
  const count = ports.length / 2;
  const members = Array.from({ length: count }, (_, i) => ({
    name: `m${i + 1}`,
    clientPort: ports[2 * i]!,
    peerPort: ports[2 * i + 1]!,
    dataDir: join(dir, `m${i + 1}`),
  }));
  const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(",");
  return members.map((m) => {
    // With `tls`, clients speak TLS and must show a certificate signed by `ca`.
    const clientUrl = `${tls ? "https" : "http"}://127.0.0.1:${m.clientPort}`;
    const peerUrl = `http://127.0.0.1:${m.peerPort}`;
    return {
      ...m,
      clientUrl,
      args: [
        `--name=${m.name}`,
        `--data-dir=${m.dataDir}`,
        `--listen-client-urls=${clientUrl}`,
        `--advertise-client-urls=${clientUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=${initialCluster}`,
        `--initial-cluster-token=${token}`,
        "--initial-cluster-state=new",
        "--heartbeat-interval=150",
        "--election-timeout=1500",
        "--logger=zap",
        "--log-level=warn",
        // Watch progress notifications every second (etcd's default is 10 minutes):
        // a quiet edge keeps its stored revision recent (etcd-follower.ts, apply).
        "--experimental-watch-progress-notify-interval=1s",
        ...(tls ? [`--cert-file=${tls.cert}`, `--key-file=${tls.key}`, `--trusted-ca-file=${tls.ca}`, "--client-cert-auth"] : []),
      ],
    };
  });
}
