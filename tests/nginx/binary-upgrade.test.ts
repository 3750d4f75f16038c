// Binary upgrade (USR2, then QUIT to the old master): the new master loads the
// module and the filter afresh and serves; nothing fails in between.
import test from "ava";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  NGINX, cleanup, config, freePort, get, requireModule, startBackend, tempDir, testFilter, until, type Backend,
} from "./harness.ts";

let dir = "";
let port = 0;
let backend: Backend;

const pidOf = (file: string) => Number(readFileSync(join(dir, file), "utf8").trim());

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test.before(async () => {
  requireModule();
  dir = tempDir();
  backend = await startBackend();
  port = await freePort();
  const conf = join(dir, "nginx.conf");
  writeFileSync(
    conf,
    config(
      dir,
      `set_backend_filter ${testFilter(dir)};
       set_backend_shared_zone upgrade_zone 1m;
       server { listen 127.0.0.1:${port}; location / { set_backend $backend; proxy_pass http://$backend; } }`,
    ),
  );
  // Daemonized, by absolute path: the new binary is executed from argv[0].
  const r = spawnSync(NGINX, ["-p", dir, "-c", conf], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`nginx did not start: ${r.stderr}`);
  await until(() => existsSync(join(dir, "nginx.pid")), "nginx.pid");
});

test.after.always(async () => {
  for (const f of ["nginx.pid", "nginx.pid.oldbin"]) {
    if (existsSync(join(dir, f))) {
      try {
        process.kill(pidOf(f), "SIGTERM");
      } catch {
        // already gone
      }
    }
  }
  await backend?.close();
  await new Promise((r) => setTimeout(r, 300));
  cleanup(dir);
});

test("requests are routed before, during and after a binary upgrade", async (t) => {
  const headers = { "x-backend": `127.0.0.1:${backend.port}` };
  t.is((await get(port, "/before", headers)).status, 200);
  const oldMaster = pidOf("nginx.pid");
  process.kill(oldMaster, "SIGUSR2");
  await until(() => existsSync(join(dir, "nginx.pid.oldbin")) && existsSync(join(dir, "nginx.pid")) && pidOf("nginx.pid") !== oldMaster, "the new master");
  t.is((await get(port, "/during", headers)).status, 200);
  process.kill(oldMaster, "SIGQUIT");
  await until(() => !alive(oldMaster), "the old master to leave");
  for (let i = 0; i < 5; i++) {
    const r = await get(port, `/after${i}`, headers);
    t.is(r.status, 200);
    t.is(r.body, `backend /after${i}`);
  }
  t.notRegex(readFileSync(join(dir, "error.log"), "utf8"), /\[(alert|emerg|crit)\]/);
});
