// Opens the store ROUTE_STORE names: the embedded LMDB store, or an etcd-backed
// one whose local LMDB replica lives in the same STATE_DIR file (routes.mdb).
import type { Logger } from "pino";
import type { Config } from "./config.ts";
import { EtcdRouteStore } from "./etcd-store.ts";
import { RouteStore } from "./store.ts";

export function openStore(config: Config, logger: Logger): RouteStore {
  const options = { dir: config.stateDir, retainChanges: config.retainChanges };
  if (config.store.kind === "lmdb") return new RouteStore(options);
  const store = new EtcdRouteStore({ ...options, etcd: config.store, logger });
  store.start();
  return store;
}
