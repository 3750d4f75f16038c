// `make run`'s launcher (scripts/run.ts): starts the API and nginx with STATE_DIR
// in a private directory, their logs reach its output, it restarts a route API
// that dies while nginx keeps routing, stops everything when nginx dies, and
// SIGTERM or SIGINT stops all of it and leaves nothing running.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { defaultRuntimeDir } from "../../scripts/runtime-dir.ts";
import { freePort } from "../lib/net.ts";
import { alive, probe, startLauncher, type Launcher } from "./launcher.ts";
import { slowDownload, startDownloadSource } from "./streams.ts";
import { until, send, startEchoBackend } from "./system.ts";

/** What workers open at request time lives where they can reach it, with STATE_DIR private. */
async function workersReachWhatTheyOpen(t: ExecutionContext, run: Launcher): Promise<void> {
  // The error page is read by a worker at request time, from the runtime directory.
  const closed = await freePort();
  await run.manage("POST", "/entries.json", { host: "down.host.com", backend: `127.0.0.1:${closed}` });
  const down = await send(run.port, "down.host.com", "/");
  t.is(down.status, 502);
  t.true(down.body.includes("down.host.com"), "the 502 page names the host");
  // A response the client does not read yet goes to a temporary file, written by a
  // worker: 64 MiB is well beyond what socket buffers and nginx's memory buffers hold.
  const big = await startDownloadSource(t, 64 * 1024 * 1024);
  await run.manage("POST", "/entries.json", { host: "big.host.com", backend: big.address });
  const backendDone = () => until(async () => big.finished === 1, "the backend to have sent the whole response", 20_000);
  t.deepEqual(await slowDownload(run.port, "big.host.com", backendDone), { status: 200, bytes: big.bytes, sha256: big.sha256 });
  await run.waitForOutput(/an upstream response is buffered to a temporary file/, "nginx to say it used a temporary file");
}

// SIGTERM to the launcher (a service manager), SIGINT to its process group (Ctrl-C in a terminal).
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  test.serial(`with STATE_DIR in a private directory, the launcher runs the whole system and ${signal} stops all of it`, async (t) => {
    const run = await startLauncher(t);
    const token = run.token();
    t.true(run.output().includes(token), "the generated token is shown once");
    t.is(statSync(run.stateDir).mode & 0o777, 0o700, "STATE_DIR (routes, token) is private");

    const app = await startEchoBackend(t, "app");
    const created = await run.manage("POST", "/entries.json", { host: "some.host.com", backend: app.address });
    t.is(created.status, 201);
    t.is((await send(run.port, "some.host.com", "/hello")).json().url, "/hello");
    if (signal === "SIGTERM") await workersReachWhatTheyOpen(t, run); // once is enough

    const runtimeDir = defaultRuntimeDir(run.stateDir);
    if (process.getuid?.() === 0) t.is(statSync(runtimeDir).mode & 0o777, 0o750, "the runtime directory is for the workers' group only");
    const nginxMaster = Number(readFileSync(join(run.stateDir, "nginx.pid"), "utf8"));
    t.true(alive(nginxMaster));
    if (signal === "SIGINT") run.signalGroup(signal);
    else run.child.kill(signal);
    t.is(await run.exited, 0);
    t.notRegex(run.output(), /restarting/, "a stop is not mistaken for a crash");
    t.false(alive(nginxMaster), "nginx is stopped");
    t.is(await probe(run.port), "ECONNREFUSED", "nothing listens on nginx's port");
    t.is(await probe(run.apiPort), "ECONNREFUSED", "the route API is stopped");
    t.false(existsSync(runtimeDir), "the runtime directory is removed");
    // Both logs reached the launcher's output: JSON lines from the API, access lines from nginx.
    t.regex(run.output(), /"msg":"route stored"/);
    t.regex(run.output(), /"some.host.com" "GET \/hello HTTP\/1.1" 200 .* backend=127.0.0.1:\d+/);
  });
}

test.serial("a route API killed with SIGKILL is restarted while cached hosts keep answering", async (t) => {
  const run = await startLauncher(t);
  const app = await startEchoBackend(t, "app");
  await run.manage("POST", "/entries.json", { host: "cached.example.com", backend: app.address });
  t.is((await send(run.port, "cached.example.com", "/")).status, 200);

  // Requests one after another for the whole outage; every one must be answered by the backend.
  const statuses: number[] = [];
  let outage = true;
  const traffic = (async () => {
    while (outage) statuses.push(await send(run.port, "cached.example.com", "/").then((r) => r.status, () => 0));
  })();
  const firstPid = Number((await run.waitForOutput(/route API started \(pid (\d+)\)/, "the API's pid"))[1]);
  const killedAt = Date.now();
  process.kill(firstPid, "SIGKILL");
  const back = await run.waitForOutput(/route API is back \(pid (\d+)\)/, "the API to be restarted", 30_000);
  t.not(Number(back[1]), firstPid);
  await until(async () => (await send(run.port, "api.localhost", "/healthz")).status === 200, "the API to answer", 20_000);
  const downMs = Date.now() - killedAt;
  outage = false;
  await traffic;
  t.log(`the API answered again ${downMs} ms after kill -9; ${statuses.length} requests for the cached host meanwhile`);
  t.regex(run.output(), /route API exited \(SIGKILL\); restarting it in [\d.]+ s/);
  t.true(statuses.length > 0);
  t.deepEqual([...new Set(statuses)], [200], "every request for the cached host was answered");

  // The restarted API serves nginx: a host it never saw before is routed.
  await run.manage("POST", "/entries.json", { host: "new.example.com", backend: app.address });
  await until(async () => (await send(run.port, "new.example.com", "/")).status === 200, "a new host to be routed", 20_000);
  t.pass();
});

test.serial("when nginx's master dies, the launcher stops everything with a message", async (t) => {
  const run = await startLauncher(t);
  const nginxMaster = Number(readFileSync(join(run.stateDir, "nginx.pid"), "utf8"));
  process.kill(nginxMaster, "SIGKILL");
  t.is(await run.exited, 1);
  t.regex(run.output(), /nginx exited \(SIGKILL\); stopping everything/);
  t.is(await probe(run.port), "ECONNREFUSED", "the orphaned workers are stopped too");
  t.is(await probe(run.apiPort), "ECONNREFUSED", "the route API is stopped");
});

test.serial("MAX_BODY_SIZE is the routed hosts' body limit", async (t) => {
  const run = await startLauncher(t, { MAX_BODY_SIZE: "4k" });
  const app = await startEchoBackend(t, "app");
  await run.manage("POST", "/entries.json", { host: "small.host.com", backend: app.address });
  const post = (bytes: number) => send(run.port, "small.host.com", "/", { method: "POST", body: "x".repeat(bytes) });
  t.is((await post(4096)).json().body.length, 4096);
  t.is((await post(4097)).status, 413);
  t.regex(run.output(), /bodies up to 4k/);
});

test.serial("bad settings stop the launcher at start with one line naming the variable", async (t) => {
  const result = spawnSync(process.execPath, ["--import=tsx", "scripts/run.ts"], {
    env: { ...process.env, MAX_BODY_SIZE: "lots" },
    encoding: "utf8",
  });
  t.is(result.status, 1);
  t.is(result.stderr.trim(), 'make run: MAX_BODY_SIZE must be an nginx size such as 100m or 1g (0: no limit), got "lots"');
});

test.serial("a RUNTIME_DIR nginx's workers cannot reach is refused at start with one line", (t) => {
  if (process.getuid?.() !== 0) return t.pass("without root the workers run as this user and reach it");
  const privateDir = mkdtempSync(join(tmpdir(), "set-backend-run-")); // 0700
  t.teardown(() => rmSync(privateDir, { recursive: true, force: true }));
  const result = spawnSync(process.execPath, ["--import=tsx", "scripts/run.ts"], {
    env: { ...process.env, STATE_DIR: join(privateDir, "state"), RUNTIME_DIR: join(privateDir, "run") },
    encoding: "utf8",
  });
  t.is(result.status, 1);
  t.false(existsSync(join(privateDir, "state")), "nothing was created");
  t.is(
    result.stderr.trim(),
    `make run: nginx's workers (user www-data) cannot reach RUNTIME_DIR ${privateDir}/run: ${privateDir} is closed to them; unset RUNTIME_DIR or choose a directory they can traverse`,
  );
});
