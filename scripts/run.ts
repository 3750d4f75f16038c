// `make run`: starts the route API and, when the nginx module and the filter are
// built, Debian's nginx with them, both in the foreground. Logs from both reach
// this terminal; Ctrl-C or SIGTERM stops both and leaves nothing running.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createReadStream, existsSync, mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { connect } from "node:net";
import { defaultFilter, defaultModule, root, writeNginxConf } from "./nginx-conf.ts";

const env = process.env;
const stateDir = resolve(env.STATE_DIR || join(root, ".run"));
const domain = env.DOMAIN || "localhost";
const port = env.PORT || "8080";
const apiListen = env.API_LISTEN || "127.0.0.1:9000";
const resolverSocket = join(stateDir, "resolver.sock");
const modulePath = env.SET_BACKEND_MODULE || defaultModule;
const filterPath = env.SET_BACKEND_FILTER || defaultFilter;

function fail(message: string): never {
  process.stderr.write(`make run: ${message}\n`);
  process.exit(1);
}

if (!/^[A-Za-z0-9.-]+$/.test(domain)) fail(`DOMAIN must be a DNS name, got ${JSON.stringify(domain)}`);
// PORT is nginx's `listen`: a port (all interfaces) or address:port, e.g. 127.0.0.1:8080.
const portMatch = /^(?:(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):)?(\d{1,5})$/.exec(port);
const portNumber = Number(portMatch?.[1]);
if (!portMatch || portNumber < 1 || portNumber > 65535) fail(`PORT must be a port (1-65535) or address:port, got ${JSON.stringify(port)}`);

function waitForSocket(path: string, child: ChildProcess): Promise<void> {
  return new Promise((resolveReady, reject) => {
    const started = Date.now();
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error("the route API exited during start-up"));
      const socket = connect(path);
      socket.once("connect", () => {
        socket.destroy();
        resolveReady();
      });
      socket.once("error", () => {
        if (Date.now() - started > 30_000) reject(new Error(`the route API did not open ${path} within 30 s`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

const children: ChildProcess[] = [];
let nginx: ChildProcess | undefined;
let stopping = false;

function stopAll(code: number): void {
  if (stopping) return;
  stopping = true;
  for (const child of children) {
    // nginx: QUIT is its graceful stop; the API drains on TERM.
    if (child.exitCode === null) child.kill(child === nginx ? "SIGQUIT" : "SIGTERM");
  }
  const force = setTimeout(() => children.forEach((c) => c.exitCode === null && c.kill("SIGKILL")), 15_000);
  Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once("exit", r))))).then(() => {
    clearTimeout(force);
    process.exit(code);
  });
}

function supervise(name: string, child: ChildProcess): void {
  children.push(child);
  child.once("exit", (code, signal) => {
    if (stopping) return;
    process.stderr.write(`make run: ${name} exited (${signal ?? code}); stopping everything\n`);
    stopAll(1);
  });
}

process.on("SIGINT", () => stopAll(0));
process.on("SIGTERM", () => stopAll(0));

mkdirSync(stateDir, { recursive: true, mode: 0o755 });
const api = spawn(process.execPath, ["--import=tsx", join(root, "api/src/main.ts")], {
  env: { ...env, STATE_DIR: stateDir, API_LISTEN: apiListen, DOMAIN: domain },
  stdio: "inherit",
});
supervise("route API", api);

try {
  await waitForSocket(resolverSocket, api);
} catch (error) {
  fail((error as Error).message);
}

if (!existsSync(modulePath) || !existsSync(filterPath)) {
  process.stderr.write(
    `make run: the nginx module (${modulePath}) or the filter (${filterPath}) is not built yet: running the route API alone on ${apiListen}\n`,
  );
} else {
  // nginx writes its access log into a FIFO that is copied to our stdout: it
  // cannot open /dev/stdout itself when stdout is a socket.
  const accessLog = join(stateDir, "access.log.pipe");
  rmSync(accessLog, { force: true });
  const mkfifo = spawnSync("mkfifo", ["-m", "0600", accessLog]);
  if (mkfifo.status !== 0) fail(`cannot create ${accessLog}: ${mkfifo.stderr}`);
  // Opening a FIFO for reading waits for its writer (nginx's master), and the
  // writer waits for a reader: start reading first.
  createReadStream(accessLog).pipe(process.stdout);
  const args = writeNginxConf({
    accessLog,
    stateDir,
    listen: port,
    domain,
    apiListen,
    resolverSocket,
    module: modulePath,
    filter: filterPath,
  });
  nginx = spawn("/usr/sbin/nginx", args, { stdio: "inherit" });
  supervise("nginx", nginx);
  process.stderr.write(`make run: nginx on port ${port}: api.${domain} is the route API, every other host is routed\n`);
}
