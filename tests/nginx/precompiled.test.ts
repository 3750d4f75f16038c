// A filter precompiled with proxy-wasm-precompile (built beside the module) is
// accepted by nginx -t and loaded by the workers without compiling; an ELF file
// that is not one is refused.
import test from "ava";
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  MODULE, cleanup, config, freePort, get, nginxTest, requireModule, startBackend, startNginx, tempDir, testFilter,
  type Backend, type Nginx,
} from "./harness.ts";

const precompiler = join(dirname(MODULE), "proxy-wasm-precompile");
let dir = "";
let cwasm = "";
let port = 0;
let backend: Backend;
let nginx: Nginx;

test.before(async () => {
  requireModule();
  if (!existsSync(precompiler)) throw new Error(`${precompiler} is missing: build it with make build (scripts/build-native.sh)`);
  dir = tempDir();
  cwasm = join(dir, "test-filter.cwasm");
  const r = spawnSync(precompiler, [testFilter(dir), cwasm], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`precompile failed: ${r.stderr}`);
  backend = await startBackend();
  port = await freePort();
  nginx = await startNginx(
    dir,
    config(dir, `set_backend_filter ${cwasm};
      server { listen 127.0.0.1:${port}; location / { set_backend $backend; proxy_pass http://$backend; } }`),
    port,
  );
});

test.after.always(async () => {
  await nginx?.stop();
  await backend?.close();
  cleanup(dir);
});

test("workers load the precompiled filter and route with it", async (t) => {
  const r = await get(port, "/pre", { "x-backend": `127.0.0.1:${backend.port}` });
  t.is(r.status, 200);
  t.is(r.body, "backend /pre");
  t.regex(nginx.errorLog(), /test-filter\.cwasm" loaded \(precompiled\)/);
});

test("an ELF file that wasmtime did not write fails nginx -t", (t) => {
  const fake = join(dir, "fake.cwasm");
  writeFileSync(fake, Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(64)]));
  const r = nginxTest(dir, config(dir, `set_backend_filter ${fake};`));
  t.not(r.status, 0);
  t.regex(r.output, /is an ELF file but not a module precompiled by wasmtime/);
});
