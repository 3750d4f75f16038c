// Listening on TCP or a unix socket, with socket permissions, and a graceful stop.
import { chmodSync, chownSync, lstatSync, unlinkSync } from "node:fs";
import { createConnection } from "node:net";
import { createServer, type Server } from "node:http";
import type Koa from "koa";
import type { Listen } from "./config.ts";

function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

// A socket file left by a crash is removed; one that still answers belongs to a
// running service, and starting a second one over it would steal its clients.
async function clearStaleSocket(path: string): Promise<void> {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return;
  }
  if (!stat.isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  if (await isListening(path)) throw new Error(`another process is already listening on ${path}`);
  unlinkSync(path);
}

export async function listen(app: Koa, where: Listen, socketGroup: number | undefined): Promise<Server> {
  const server = createServer(app.callback());
  // Long-polls hold a request up to 30 s; keep the defaults above that.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  if (where.kind === "unix") await clearStaleSocket(where.path);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    const done = () => {
      server.off("error", reject);
      resolve();
    };
    if (where.kind === "unix") server.listen(where.path, done);
    else server.listen(where.port, where.host, done);
  });
  if (where.kind === "unix") {
    // Owner and group only: nginx's workers are in the group, other users are not.
    if (socketGroup !== undefined) chownSync(where.path, process.getuid!(), socketGroup);
    chmodSync(where.path, 0o660);
  }
  return server;
}

export function describe(where: Listen, server: Server): string {
  if (where.kind === "unix") return `unix:${where.path}`;
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : where.port;
  return `${where.host.includes(":") ? `[${where.host}]` : where.host}:${port}`;
}

/** Stops accepting, lets requests in flight finish for up to `graceMs`, then closes what is left. */
export function stop(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
