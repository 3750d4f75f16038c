// `make run`: starts the route API and, when the nginx module and the filter are
// built, Debian's nginx with them, both in the foreground; logs from both reach
// this terminal. It supervises: a route API that exits is started again (with
// backoff) while nginx keeps routing the hosts it has cached; if nginx's master
// exits, everything stops with a message. Ctrl-C or SIGTERM stops all of it and
// leaves nothing running.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createReadStream, existsSync, mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { connect } from "node:net";
import {
  DEFAULT_MAX_BODY_SIZE,
  WORKER_USER,
  defaultFilter,
  defaultModule,
  defaultPages,
  isNginxSize,
  precompileFilter,
  root,
  writeNginxConf,
} from "./nginx-conf.ts";
import { Restarter } from "./restarter.ts";
import { defaultRuntimeDir, lookupAccount, prepareRuntimeDir, untraversable, type Account } from "./runtime-dir.ts";

const NGINX = "/usr/sbin/nginx";
const env = process.env;
const stateDir = resolve(env.STATE_DIR || join(root, ".run"));
const domain = env.DOMAIN || "localhost";
const port = env.PORT || "8080";
const apiListen = env.API_LISTEN || "127.0.0.1:9000";
const maxBodySize = env.MAX_BODY_SIZE || DEFAULT_MAX_BODY_SIZE;
// The edge metrics' loopback listener (docs/metrics.md); the route API passes them on at /edge/metrics.
const metricsPort = Number(env.METRICS_PORT || "9145");
const modulePath = env.SET_BACKEND_MODULE || defaultModule;
const filterPath = env.SET_BACKEND_FILTER || defaultFilter;

function log(line: string): void {
  process.stderr.write(`make run: ${line}\n`);
}

function fail(message: string): never {
  log(message);
  process.exit(1);
}

if (!/^[A-Za-z0-9.-]+$/.test(domain)) fail(`DOMAIN must be a DNS name, got ${JSON.stringify(domain)}`);
// PORT is nginx's `listen`: a port (all interfaces) or address:port, e.g. 127.0.0.1:8080.
const portMatch = /^(?:(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):)?(\d{1,5})$/.exec(port);
const portNumber = Number(portMatch?.[1]);
if (!portMatch || portNumber < 1 || portNumber > 65535) fail(`PORT must be a port (1-65535) or address:port, got ${JSON.stringify(port)}`);
if (!Number.isInteger(metricsPort) || metricsPort < 1 || metricsPort > 65535) fail(`METRICS_PORT must be a port (1-65535), got ${JSON.stringify(env.METRICS_PORT)}`);
if (!isNginxSize(maxBodySize)) fail(`MAX_BODY_SIZE must be an nginx size such as 100m or 1g (0: no limit), got ${JSON.stringify(maxBodySize)}`);

// As root, nginx's workers drop to WORKER_USER; they must reach the runtime directory.
let workers: Account | undefined;
if (process.getuid?.() === 0) {
  workers = lookupAccount(WORKER_USER);
  if (!workers) fail(`nginx's workers run as ${WORKER_USER} and this machine has no such user (Debian's nginx package creates it)`);
}
const defaultRuntime = defaultRuntimeDir(stateDir);
const runtimeDir = resolve(env.RUNTIME_DIR || defaultRuntime);
const resolverSocket = join(runtimeDir, "resolver.sock");
// sockaddr_un holds 107 bytes of path.
if (Buffer.byteLength(resolverSocket) > 107) fail(`RUNTIME_DIR ${runtimeDir} is too long for a unix socket path (${resolverSocket}); choose a shorter one`);

function answers(path: string): Promise<boolean> {
  return new Promise((resolveAnswer) => {
    const socket = connect(path);
    socket.once("connect", () => (socket.destroy(), resolveAnswer(true)));
    socket.once("error", () => resolveAnswer(false));
  });
}

// Checked before the runtime directory is touched: it is the other instance's too.
if (await answers(resolverSocket)) fail(`another make run (or route API) is already running for STATE_DIR ${stateDir}: ${resolverSocket} answers`);

// Checked before anything is created.
const blocked = workers && untraversable(runtimeDir, workers);
if (blocked) {
  fail(`nginx's workers (user ${WORKER_USER}) cannot reach RUNTIME_DIR ${runtimeDir}: ${blocked} is closed to them; unset RUNTIME_DIR or choose a directory they can traverse`);
}

// STATE_DIR holds the routes and the token: only the user running make run needs it.
mkdirSync(stateDir, { recursive: true, mode: 0o700 });
let pages: string;
try {
  pages = prepareRuntimeDir(runtimeDir, defaultPages, workers?.gids[0]);
} catch (error) {
  fail(`RUNTIME_DIR ${runtimeDir} cannot be used: ${(error as Error).message}`);
}

async function waitForSocket(path: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error("the route API exited during start-up");
    if (await answers(path)) return;
    if (Date.now() > until) throw new Error(`the route API did not open ${path} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Compiled to JavaScript (the container image runs run.js, packaging/), the API is
// JavaScript too and runs without the TypeScript loader.
const apiCommand = import.meta.filename.endsWith(".js") ? [join(root, "api/src/main.js")] : ["--import=tsx", join(root, "api/src/main.ts")];

function startApi(): ChildProcess {
  const child = spawn(process.execPath, apiCommand, {
    env: {
      ...env,
      STATE_DIR: stateDir,
      API_LISTEN: apiListen,
      DOMAIN: domain,
      RESOLVER_LISTEN: `unix:${resolverSocket}`,
      EDGE_METRICS_URL: env.EDGE_METRICS_URL || `http://127.0.0.1:${metricsPort}/metrics`,
      // The socket is mode 0660: this user and the workers' group.
      ...(workers ? { SOCKET_GROUP: String(workers.gids[0]) } : {}),
    },
    // In make run's process group: a signal to the group (Ctrl-C, kill -- -PGID)
    // reaches it even if make run itself is killed first. make run's own handler
    // runs long before the API has drained, so it knows not to restart it.
    stdio: "inherit",
  });
  log(`route API started (pid ${child.pid})`);
  return child;
}

// The route API's first process until it is up, then the restarter that keeps one running.
let firstApi: ChildProcess | undefined;
let api: Restarter | undefined;
const apiChild = (): ChildProcess | undefined => api?.child ?? firstApi;
let nginx: ChildProcess | undefined;
let stopping = false;

// nginx runs in its own process group, so that workers orphaned by a master that
// was killed can be found and stopped too. It stops within milliseconds of the
// QUIT make run sends it on Ctrl-C or SIGTERM.
function killNginxGroup(): void {
  if (nginx?.pid === undefined) return;
  try {
    process.kill(-nginx.pid, "SIGKILL");
  } catch {
    // ESRCH: the group is gone already.
  }
}

function cleanUp(): void {
  // The default runtime directory is ours alone; one given as RUNTIME_DIR is left.
  if (runtimeDir === defaultRuntime && runtimeDir !== stateDir) rmSync(runtimeDir, { recursive: true, force: true });
}

function stopAll(code: number): void {
  if (stopping) return;
  stopping = true;
  const exits: Promise<unknown>[] = [];
  // The API drains on TERM.
  if (api) exits.push(api.stop("SIGTERM"));
  else if (firstApi && firstApi.exitCode === null && firstApi.signalCode === null) {
    const child = firstApi;
    exits.push(new Promise((r) => child.once("exit", r)));
    child.kill("SIGTERM");
  }
  if (nginx && nginx.exitCode === null && nginx.signalCode === null) {
    const child = nginx;
    exits.push(new Promise((r) => child.once("exit", r)));
    child.kill("SIGQUIT"); // nginx's graceful stop (bounded by worker_shutdown_timeout)
  }
  const force = setTimeout(() => {
    log("still stopping after 15 s: killing what is left");
    killAll();
  }, 15_000);
  Promise.all(exits).then(() => {
    clearTimeout(force);
    killNginxGroup();
    nginx = undefined; // its group id may be reused from now on
    cleanUp();
    process.exit(code);
  });
}

function killAll(): void {
  killNginxGroup();
  apiChild()?.kill("SIGKILL");
}

// A second Ctrl-C does not wait for the graceful stop (open WebSockets hold nginx up to 10 s).
const onSignal = (): void => {
  if (!stopping) return stopAll(0);
  log("stopping now");
  killAll();
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);
// Should this process die of an error, it takes its children along.
process.on("exit", () => {
  const child = apiChild();
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  killNginxGroup();
});

firstApi = startApi();
try {
  await waitForSocket(resolverSocket, firstApi, 30_000);
} catch (error) {
  // A stop during start-up is stopAll's to finish.
  if (!stopping) {
    log((error as Error).message);
    stopAll(1);
  }
}
if (!stopping) {
  superviseApi(firstApi);
  if (!existsSync(modulePath) || !existsSync(filterPath) || !existsSync(NGINX)) {
    log(`the nginx module (${modulePath}), the filter (${filterPath}) or ${NGINX} is missing: running the route API alone on ${apiListen}`);
  } else {
    startNginx();
  }
}

function superviseApi(first: ChildProcess): void {
  api = new Restarter("route API", first, startApi, log, (child) => {
    waitForSocket(resolverSocket, child, 60_000).then(
      () => log(`route API is back (pid ${child.pid})`),
      () => {}, // it exited again: the restarter says so and tries later
    );
  });
}

/** The filter as workers load it: precompiled into the runtime directory when possible. */
function precompiled(filter: string): string {
  const { path, error } = precompileFilter(filter, modulePath, runtimeDir);
  if (error) log(`cannot precompile ${filter} (${error}); every nginx worker compiles it`);
  return path;
}

function startNginx(): void {
  // nginx writes its access log into a FIFO that is copied to our stdout: it
  // cannot open /dev/stdout itself when stdout is a socket. Its master opens it.
  const accessLog = join(stateDir, "access.log.pipe");
  rmSync(accessLog, { force: true });
  const mkfifo = spawnSync("mkfifo", ["-m", "0600", accessLog]);
  if (mkfifo.status !== 0) {
    log(`cannot create ${accessLog}: ${mkfifo.stderr}`);
    return stopAll(1);
  }
  // Opening a FIFO for reading waits for its writer (nginx's master), and the
  // writer waits for a reader: start reading first.
  createReadStream(accessLog).pipe(process.stdout, { end: false });
  const args = writeNginxConf({
    accessLog,
    stateDir,
    runtimeDir,
    pages,
    listen: port,
    metricsPort,
    domain,
    apiListen,
    resolverSocket,
    module: modulePath,
    filter: precompiled(filterPath),
    maxBodySize,
  });
  nginx = spawn(NGINX, args, { stdio: "inherit", detached: true });
  nginx.once("error", (error) => {
    log(`cannot start ${NGINX}: ${error.message}`);
    nginx = undefined; // never started: no exit to wait for
    stopAll(1);
  });
  nginx.once("exit", (code, signal) => {
    if (stopping) return;
    log(`nginx exited (${signal ?? `code ${code}`}); stopping everything`);
    killNginxGroup(); // workers a killed master left behind still hold the port
    stopAll(1);
  });
  log(`nginx on port ${port}: api.${domain} is the route API, every other host is routed (bodies up to ${maxBodySize})`);
  log(`nginx's workers open ${runtimeDir} (internal socket, error pages, temporary files); state is in ${stateDir}`);
}
