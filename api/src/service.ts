// Starts the whole service from a Config: the store, both listeners, and a stop
// that drains them. main.ts and the tests both start it through here.
import { mkdirSync } from "node:fs";
import type { Server } from "node:http";
import type { Logger } from "pino";
import { createApps } from "./app.ts";
import type { Config } from "./config.ts";
import { BackendNames } from "./names.ts";
import { describe, listen, stop } from "./server.ts";
import { openStore } from "./open-store.ts";
import type { RouteStore } from "./store.ts";

export interface Service {
  store: RouteStore;
  publicServer: Server;
  internalServer: Server;
  /** Where each listener ended up, e.g. "127.0.0.1:40211" or "unix:/…/resolver.sock". */
  publicAddress: string;
  internalAddress: string;
  stop(): Promise<void>;
}

export async function startService(config: Config, token: string, logger: Logger): Promise<Service> {
  mkdirSync(config.stateDir, { recursive: true, mode: 0o755 });
  const store = openStore(config, logger);
  const shutdown = new AbortController();
  const { publicApp, internalApp } = createApps({
    store,
    names: new BackendNames(config.backendNames, logger),
    logger,
    token,
    domain: config.domain,
    importLimitBytes: config.importLimitBytes,
    edgeMetricsUrl: config.edgeMetricsUrl,
    shutdown: shutdown.signal,
  });
  let publicServer: Server | undefined;
  try {
    publicServer = await listen(publicApp, config.apiListen, config.socketGroup);
    const internalServer = await listen(internalApp, config.resolverListen, config.socketGroup);
    return {
      store,
      publicServer,
      internalServer,
      publicAddress: describe(config.apiListen, publicServer),
      internalAddress: describe(config.resolverListen, internalServer),
      async stop() {
        shutdown.abort();
        await Promise.all([stop(publicServer!, config.shutdownGraceMs), stop(internalServer, config.shutdownGraceMs)]);
        await store.close();
      },
    };
  } catch (error) {
    publicServer?.close();
    await store.close();
    throw error;
  }
}
