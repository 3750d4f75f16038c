// `make run`'s launcher (scripts/run.ts): starts the API and nginx, their logs
// reach its output, SIGTERM or SIGINT stops both and leaves nothing running.
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { freePort } from "../nginx/harness.ts";
import { API_HOST, eventually, requireBuilt, send, startEchoBackend } from "./system.ts";

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  test.serial(`the launcher runs the whole system and ${signal} stops all of it`, async (t) => {
    requireBuilt();
    const stateDir = mkdtempSync(join(tmpdir(), "set-backend-run-"));
    chmodSync(stateDir, 0o755);
    t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
    const port = await freePort();
    const apiPort = await freePort();
    const launcher = spawn(process.execPath, ["--import=tsx", "scripts/run.ts"], {
      env: { ...process.env, STATE_DIR: stateDir, PORT: `127.0.0.1:${port}`, API_LISTEN: `127.0.0.1:${apiPort}` },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    launcher.stdout.on("data", (d: Buffer) => (output += d));
    launcher.stderr.on("data", (d: Buffer) => (output += d));
    const exited = new Promise<number | null>((r) => launcher.once("exit", (code) => r(code)));
    t.teardown(() => {
      if (launcher.exitCode === null) launcher.kill("SIGKILL");
    });

    await eventually(async () => (await send(port, API_HOST, "/healthz").catch(() => ({ status: 0 }))).status === 200, "the system to answer", 30_000);
    const token = readFileSync(join(stateDir, "api-token"), "utf8").trim();
    t.true(output.includes(token), "the generated token is shown once");

    const app = await startEchoBackend(t, "app");
    const auth = { Authorization: `Bearer ${token}` };
    const created = await send(port, API_HOST, "/entries.json", {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ host: "some.host.com", backend: app.address }),
    });
    t.is(created.status, 201);
    t.is((await send(port, "some.host.com", "/hello")).json().url, "/hello");

    const nginxMaster = Number(readFileSync(join(stateDir, "nginx.pid"), "utf8"));
    t.true(alive(nginxMaster));
    launcher.kill(signal);
    t.is(await exited, 0);
    t.false(alive(nginxMaster), "nginx is stopped");
    const refused = (p: number) => send(p, API_HOST, "/healthz").then(() => "answered", (e: NodeJS.ErrnoException) => e.code);
    t.is(await refused(port), "ECONNREFUSED", "nothing listens on nginx's port");
    t.is(await refused(apiPort), "ECONNREFUSED", "the route API is stopped");
    // Both logs reached the launcher's output: JSON lines from the API, access lines from nginx.
    t.regex(output, /"msg":"route stored"/);
    t.regex(output, /"some.host.com" "GET \/hello HTTP\/1.1" 200 .* backend=127.0.0.1:\d+/);
  });
}
