// `make deb`'s packages installed on this machine's Debian with dpkg, used, upgraded,
// removed and purged: the module loads into the system nginx (nginx -t), the route
// API runs as its systemd unit would, a route added through the API is routed by
// the system nginx from the packaged example site, an upgrade keeps the routes,
// the token and the administrator's settings, removal keeps the state, purge
// deletes it. Everything installed is purged afterwards, even when a test fails.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { appendFileSync, existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { lookupAccount } from "../../scripts/runtime-dir.ts";
import { send } from "../e2e/system.ts";
import { freePort } from "../lib/net.ts";
import { API_PACKAGE, MODULE_PACKAGE, connects, debOf, dpkg, installed, version, waitFor, withVersion } from "./packages.ts";
import { parseUnit, startAsUnit } from "./unit.ts";

const UNIT_FILE = "/lib/systemd/system/set-backend-api.service";
const ENV_FILE = "/etc/default/set-backend-api";
const STATE = "/var/lib/set-backend";
const SOCKET = "/run/set-backend-api/resolver.sock";
const MODULE_LINK = "/etc/nginx/modules-enabled/50-mod-http-set-backend.conf";
const EXAMPLE_SITE = "/usr/share/doc/libnginx-mod-http-set-backend/examples/set-backend.conf";
const API_NAME = "api.packages.test";

const work = mkdtempSync(join(tmpdir(), "set-backend-packages-"));
let userExisted = false;
let apiPort = 0;
let api: { child: ChildProcess; output: () => string } | undefined;
let nginx: { child: ChildProcess; port: number; dir: string } | undefined;
// The routed site: it answers with its name and the path, for the whole file (routes outlive an upgrade).
const app = http.createServer((req, res) => res.end(JSON.stringify({ name: "app", url: req.url })));
let appAddress = "";

// Commands run as from an administrator's shell: without the STATE_DIR that `make` exports for make run.
const shellEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== "STATE_DIR"));

function run(command: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(command, args, { encoding: "utf8", env: shellEnv });
  return { status: result.status, output: result.stdout + result.stderr };
}

/** The route API, started as /lib/systemd/system/set-backend-api.service would start it. */
async function startApi(): Promise<void> {
  const unit = parseUnit(readFileSync(UNIT_FILE, "utf8"));
  const child = startAsUnit(unit);
  let output = "";
  child.stdout!.on("data", (c) => (output += c));
  child.stderr!.on("data", (c) => (output += c));
  api = { child, output: () => output };
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`the route API exited: ${output}`);
    return (await connects(SOCKET)) && (await connects(apiPort));
  }, "the route API to listen");
}

async function stopApi(): Promise<void> {
  const child = api?.child;
  api = undefined;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

/** The system nginx binary (its prefix, where modules/ is), with Debian's modules-enabled/ and the packaged example site on a loopback port. */
async function startNginx(form: "seed" | "balancer"): Promise<void> {
  const port = await freePort();
  const dir = mkdtempSync(join(work, "nginx-"));
  let site = readFileSync(EXAMPLE_SITE, "utf8")
    .replaceAll(/listen 80( default_server)?;/g, `listen 127.0.0.1:${port}$1;`)
    .replace("server_name api.example.com;", `server_name ${API_NAME};`)
    .replace("proxy_pass http://127.0.0.1:9000;", `proxy_pass http://127.0.0.1:${apiPort};`);
  if (form === "balancer") {
    site = site.replace("        proxy_pass http://$backend$request_uri;", "        # seed form off").replace("# proxy_pass http://set_backend_routed;", "proxy_pass http://set_backend_routed;");
  }
  writeFileSync(join(dir, "site.conf"), site);
  writeFileSync(
    join(dir, "nginx.conf"),
    [
      "include /etc/nginx/modules-enabled/*.conf;",
      "user www-data;",
      "worker_processes 1;",
      `pid ${dir}/nginx.pid;`,
      "error_log stderr notice;",
      "events { worker_connections 256; }",
      `http { include /etc/nginx/mime.types; access_log ${dir}/access.log; include ${dir}/site.conf; }`,
      "",
    ].join("\n"),
  );
  const child = spawn("/usr/sbin/nginx", ["-c", join(dir, "nginx.conf"), "-g", "daemon off;"], { stdio: ["ignore", "ignore", "pipe"], detached: true });
  let errors = "";
  child.stderr!.on("data", (c) => (errors += c));
  nginx = { child, port, dir };
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${errors}`);
    return connects(port);
  }, "nginx to listen");
}

async function stopNginx(): Promise<void> {
  const current = nginx;
  nginx = undefined;
  if (!current || current.child.exitCode !== null) return;
  const exited = new Promise((r) => current.child.once("exit", r));
  current.child.kill("SIGQUIT");
  await exited;
  try {
    process.kill(-current.child.pid!, "SIGKILL"); // a worker left behind
  } catch {
    // the group is gone
  }
}

function token(): string {
  return readFileSync(join(STATE, "api-token"), "utf8").trim();
}

function manage(method: string, path: string, body?: string, contentType = "application/json") {
  return send(nginx!.port, API_NAME, path, {
    method,
    headers: { Authorization: `Bearer ${token()}`, ...(body ? { "Content-Type": contentType } : {}) },
    ...(body ? { body } : {}),
  });
}

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("the package tests install packages: run them as root");
  for (const name of [MODULE_PACKAGE, API_PACKAGE]) {
    const state = installed(name);
    if (state && !state.startsWith("unknown ok not-installed")) throw new Error(`${name} is already on this machine (${state}): the tests would purge it`);
  }
  if (existsSync(STATE)) throw new Error(`${STATE} exists: the tests would delete it`);
  userExisted = lookupAccount("set-backend") !== undefined;
  apiPort = await freePort();
  await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
  appAddress = `127.0.0.1:${(app.address() as AddressInfo).port}`;
});

test.after.always(async () => {
  await stopNginx();
  await stopApi();
  const left = [MODULE_PACKAGE, API_PACKAGE].filter((name) => installed(name)?.includes(" installed") || installed(name)?.includes("config-files"));
  if (left.length) await dpkg("--purge", ...left).catch((error) => console.error(error));
  rmSync(STATE, { recursive: true, force: true });
  rmSync("/run/set-backend-api", { recursive: true, force: true });
  if (!userExisted && lookupAccount("set-backend")) run("deluser", ["--system", "--quiet", "set-backend"]);
  rmSync(work, { recursive: true, force: true });
  app.closeAllConnections();
  app.close();
});

test.serial("dpkg installs both packages, enables the module and prepares the service's user and state", async (t) => {
  await dpkg("-i", debOf(MODULE_PACKAGE), debOf(API_PACKAGE));
  t.is(readlinkSync(MODULE_LINK), "/usr/share/nginx/modules-available/mod-http-set-backend.conf");
  t.is(readFileSync(MODULE_LINK, "utf8").trim(), "load_module modules/ngx_http_set_backend.so;");
  t.true(lookupAccount("set-backend") !== undefined, "the service's user exists");
  const state = statSync(STATE);
  t.is(state.mode & 0o777, 0o700, "the state directory is private");
  t.is(state.uid, lookupAccount("set-backend")!.uid);
  t.is(statSync(ENV_FILE).mode & 0o777, 0o600, "the environment file may hold secrets");
  t.regex(readFileSync("/usr/share/set-backend/resolver.wasm").subarray(0, 4).toString("latin1"), /^\0asm$/);
});

test.serial("nginx -t passes with the module enabled in the system configuration", (t) => {
  const result = run("/usr/sbin/nginx", ["-t"]);
  t.is(result.status, 0, result.output);
  t.regex(result.output, /syntax is ok/);
});

test.serial("systemd-analyze verify accepts the unit, without a warning", (t) => {
  const result = run("systemd-analyze", ["verify", UNIT_FILE]);
  t.is(result.status, 0, result.output);
  t.is(result.output.trim(), "", "systemd has nothing to say about the unit");
});

test.serial("the service starts as its unit runs it: own user, private token, socket for nginx's workers only", async (t) => {
  // The administrator's setting, as the environment file documents.
  appendFileSync(ENV_FILE, `API_LISTEN=127.0.0.1:${apiPort}\n`);
  await startApi();
  const user = lookupAccount("set-backend")!;
  // sh execs setpriv, which execs node: the same pid is the service.
  const status = readFileSync(`/proc/${api!.child.pid}/status`, "utf8");
  t.regex(status, /^Name:\s+node/m);
  t.regex(status, new RegExp(`^Uid:\\s+${user.uid}\\s+${user.uid}\\s`, "m"), "it runs as the unit's user");
  t.regex(status, /^NoNewPrivs:\s+1/m);
  const tokenFile = statSync(join(STATE, "api-token"));
  t.is(tokenFile.mode & 0o777, 0o600, "the token generated on first start is the service's alone");
  t.is(tokenFile.uid, user.uid);
  t.true(token().length >= 16);
  const socket = lstatSync(SOCKET);
  t.true(socket.isSocket());
  t.is(socket.mode & 0o777, 0o660);
  t.is(socket.gid, lookupAccount("www-data")!.gids[0]!, "nginx's workers' group may connect");
});

test.serial("a route added through the API is routed by the system nginx (the packaged example site, seed form)", async (t) => {
  await startNginx("seed");
  const created = await manage("POST", "/entries.json", JSON.stringify({ host: "app.packages.test", backend: appAddress }));
  t.is(created.status, 201, created.body);
  const routed = await send(nginx!.port, "app.packages.test", "/hello");
  t.is(routed.status, 200, routed.body);
  t.is(routed.json().name, "app");
  t.is(routed.json().url, "/hello");
  // An import runs in a worker thread, whose entry file the compiled tree replaces.
  const imported = await manage("POST", "/entries/import", `{"host":"imported.packages.test","backend":"${appAddress}"}\n`, "application/x-ndjson");
  t.is(imported.status, 200, imported.body);
  t.is((await send(nginx!.port, "imported.packages.test", "/")).json().name, "app");
  t.is((await send(nginx!.port, "unknown.packages.test", "/")).status, 404);
  // The packaged command reads the token from the state directory (root may).
  const cli = run("set-backend", ["--url", `http://127.0.0.1:${apiPort}`, "routes", "get", "app.packages.test", "--json"]);
  t.is(cli.status, 0, cli.output);
  t.is(JSON.parse(cli.output).backend, appAddress);
});

test.serial("the route table is backed up and restored with the packaged command, as docs/deploy.md says", (t) => {
  const url = `http://127.0.0.1:${apiPort}`;
  const backup = join(work, "routes.ndjson");
  t.is(run("set-backend", ["--url", url, "routes", "export", "-o", backup]).status, 0);
  t.is(readFileSync(backup, "utf8").trim().split("\n").length, 2, "both routes are in the backup");
  t.is(run("set-backend", ["--url", url, "routes", "rm", "imported.packages.test"]).status, 0);
  t.is(run("set-backend", ["--url", url, "routes", "get", "imported.packages.test"]).status, 2, "gone");
  const restored = run("set-backend", ["--url", url, "routes", "import", backup, "--no-progress"]);
  t.is(restored.status, 0, restored.output);
  t.is(run("set-backend", ["--url", url, "routes", "get", "imported.packages.test"]).status, 0, "back from the backup");
});

test.serial("an upgrade keeps the routes, the token and the administrator's settings", async (t) => {
  const before = token();
  await stopApi();
  await stopNginx();
  const next = `${version}+next1`;
  await dpkg("-i", withVersion(debOf(MODULE_PACKAGE), next, work), withVersion(debOf(API_PACKAGE), next, work));
  t.true(installed(API_PACKAGE)?.endsWith(next));
  t.true(installed(MODULE_PACKAGE)?.endsWith(next));
  t.is(token(), before);
  t.true(readFileSync(ENV_FILE, "utf8").includes(`API_LISTEN=127.0.0.1:${apiPort}`), "a changed conffile is kept");
  t.true(existsSync(MODULE_LINK), "the module stays enabled");
  // An administrator who disabled the module keeps it disabled through an upgrade (here: a reinstall).
  rmSync(MODULE_LINK);
  await dpkg("-i", join(work, `${MODULE_PACKAGE}_${next}_amd64.deb`));
  t.false(existsSync(MODULE_LINK), "an upgrade does not enable a module the administrator disabled");
  symlinkSync("/usr/share/nginx/modules-available/mod-http-set-backend.conf", MODULE_LINK);
  await startApi();
  // A fresh nginx (empty cache), this time with the balancer form of the example.
  await startNginx("balancer");
  const routed = await send(nginx!.port, "app.packages.test", "/after-upgrade");
  t.is(routed.status, 200, routed.body);
  t.is(routed.json().url, "/after-upgrade");
});

test.serial("removal keeps the routes and the token and disables the module; purge deletes them", async (t) => {
  await stopNginx();
  await stopApi();
  await dpkg("--remove", API_PACKAGE, MODULE_PACKAGE);
  t.is(lstatSync(MODULE_LINK, { throwIfNoEntry: false }), undefined, "no link is left to a removed module");
  t.is(run("/usr/sbin/nginx", ["-t"]).status, 0, "the system nginx still starts");
  t.true(existsSync(join(STATE, "routes.mdb")), "the routes survive a removal");
  t.true(existsSync(join(STATE, "api-token")));
  t.true(existsSync(ENV_FILE), "configuration stays until purge");
  // A reinstall after a removal enables the module again (Debian's modules do the same).
  await dpkg("-i", debOf(MODULE_PACKAGE));
  t.true(existsSync(MODULE_LINK), "re-enabled on reinstall");
  await dpkg("--remove", MODULE_PACKAGE);
  await dpkg("--purge", API_PACKAGE, MODULE_PACKAGE);
  t.false(existsSync(STATE), "purge deletes the routes and the token");
  t.is(lstatSync(`${MODULE_LINK}.removed`, { throwIfNoEntry: false }), undefined, "nothing of the module is left in modules-enabled");
  t.false(existsSync(ENV_FILE));
  t.is(installed(API_PACKAGE), undefined);
});
