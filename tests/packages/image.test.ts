// `make image`'s container image, run with buildah (chroot isolation: the host's
// network, so the test reaches it on loopback ports) the way `docker run` would:
// its entrypoint, its environment plus the settings a user gives with -e, and the
// state volume on a host directory. A route added through the image's nginx is
// routed; a killed route API is restarted while nginx keeps routing; SIGTERM stops
// everything; the routes stay in the volume.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { send } from "../e2e/system.ts";
import { freePort } from "../lib/net.ts";
import { connects, version, waitFor } from "./packages.ts";

const IMAGE = `localhost/set-backend:${version}`;
const DOMAIN = "image.test";
const stateDir = mkdtempSync(join(tmpdir(), "set-backend-image-state-"));
const app = http.createServer((req, res) => res.end(JSON.stringify({ name: "app", url: req.url })));
let container = "";
let run: ChildProcess | undefined;
let output = "";
let port = 0;
let apiPort = 0;

/** The pid of the container's process whose command line has `script` and whose environment has `marker`. */
function findProcess(script: string, marker: string): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (!cmdline.includes(script)) continue;
      if (readFileSync(`/proc/${entry}/environ`, "utf8").split("\0").includes(marker)) return Number(entry);
    } catch {
      // the process exited meanwhile
    }
  }
  return undefined;
}

function manage(method: string, path: string, body?: string) {
  const token = readFileSync(join(stateDir, "api-token"), "utf8").trim();
  return send(port, `api.${DOMAIN}`, path, { method, headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, ...(body ? { body } : {}) });
}

test.before(async () => {
  let image;
  try {
    image = JSON.parse(execFileSync("buildah", ["inspect", "--type", "image", IMAGE], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }));
  } catch {
    throw new Error(`${IMAGE} is not in buildah's storage: run \`make image\` first`);
  }
  const entrypoint = image.OCIv1.config.Entrypoint as string[];
  container = execFileSync("buildah", ["from", "--pull-never", IMAGE], { encoding: "utf8" }).trim();
  [port, apiPort] = [await freePort(), await freePort()];
  const metricsPort = await freePort();
  await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
  // The volume and -e settings as with `docker run -v … -e …`; the ports are
  // loopback ones here because the container shares this machine's network.
  run = spawn(
    "buildah",
    [
      "run", "--isolation", "chroot", "-v", `${stateDir}:/var/lib/set-backend`,
      "-e", `PORT=127.0.0.1:${port}`, "-e", `API_LISTEN=127.0.0.1:${apiPort}`, "-e", `METRICS_PORT=${metricsPort}`, "-e", `DOMAIN=${DOMAIN}`,
      container, "--", ...entrypoint,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  run.stdout!.on("data", (c) => (output += c));
  run.stderr!.on("data", (c) => (output += c));
  await waitFor(async () => {
    if (run!.exitCode !== null) throw new Error(`the container exited:\n${output}`);
    return connects(port);
  }, "the container's nginx to listen", 60_000);
});

test.after.always(() => {
  // Whatever is left of the container's processes, then the container.
  for (const script of ["scripts/run.js", "api/src/main.js"]) {
    const pid = findProcess(script, `API_LISTEN=127.0.0.1:${apiPort}`);
    if (pid) process.kill(pid, "SIGKILL");
  }
  run?.kill("SIGKILL");
  if (container) execFileSync("buildah", ["rm", container], { stdio: "ignore" });
  app.closeAllConnections();
  app.close();
  rmSync(stateDir, { recursive: true, force: true });
});

test.serial("the image's entrypoint routes a route added through its API, with logs on stdout", async (t) => {
  const token = statSync(join(stateDir, "api-token"));
  t.is(token.mode & 0o777, 0o600, "the token generated on first start is private, in the volume");
  const backend = `127.0.0.1:${(app.address() as AddressInfo).port}`;
  const created = await manage("POST", "/entries.json", JSON.stringify({ host: "app.image.test", backend }));
  t.is(created.status, 201, created.body);
  const routed = await send(port, "app.image.test", "/through-the-image");
  t.is(routed.status, 200, routed.body);
  t.is(routed.json().url, "/through-the-image");
  t.is((await send(port, "nobody.image.test", "/")).status, 404);
  await waitFor(() => output.includes('"app.image.test" "GET /through-the-image HTTP/1.1" 200'), "nginx's access line on the container's output");
  t.regex(output, /"msg":"route stored"/, "the API's JSON log too");
});

test.serial("the route table is exported inside the container with the packaged command (docker exec's backup)", (t) => {
  // A second process in the running container, as `docker exec` starts one; it sees the same volume.
  const exported = execFileSync(
    "buildah",
    ["run", "--isolation", "chroot", "-v", `${stateDir}:/var/lib/set-backend`, container, "--", "set-backend", "--url", `http://127.0.0.1:${apiPort}`, "routes", "export"],
    { encoding: "utf8" },
  );
  t.deepEqual(
    exported.trim().split("\n").map((line) => JSON.parse(line).host),
    ["app.image.test"],
  );
});

test.serial("a killed route API is restarted while nginx keeps routing", async (t) => {
  const apiPid = findProcess("api/src/main.js", `API_LISTEN=127.0.0.1:${apiPort}`);
  t.truthy(apiPid, "the API runs in the container");
  process.kill(apiPid!, "SIGKILL");
  // The host was cached by nginx: it is served while the API is away.
  const during = await send(port, "app.image.test", "/during");
  t.is(during.status, 200, during.body);
  await waitFor(() => /route API is back/.test(output), "the supervisor to restart the API", 30_000);
  t.regex(output, /route API exited \(SIGKILL\); restarting it/);
  const created = await manage("POST", "/entries.json", JSON.stringify({ host: "new.image.test", backend: `127.0.0.1:${(app.address() as AddressInfo).port}` }));
  t.is(created.status, 201, created.body);
  t.is((await send(port, "new.image.test", "/")).status, 200);
});

test.serial("SIGTERM stops the container's processes, and the routes stay in the volume", async (t) => {
  const supervisor = findProcess("scripts/run.js", `API_LISTEN=127.0.0.1:${apiPort}`);
  t.truthy(supervisor);
  const exited = new Promise<number | null>((r) => run!.once("exit", (code) => r(code)));
  process.kill(supervisor!, "SIGTERM");
  t.is(await exited, 0, output.slice(-2000));
  t.false(await connects(port), "nginx is stopped");
  t.false(await connects(apiPort), "the route API is stopped");
  t.true(existsSync(join(stateDir, "routes.mdb")), "the routes are in the volume");
});
