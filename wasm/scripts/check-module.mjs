// Checks build/resolver.wasm's interface: it imports nothing but env.proxy_*,
// exports proxy_abi_version_0_2_1 and the callbacks the host needs, and fits
// the size budget.  Usage: node wasm/scripts/check-module.mjs [path]
import { readFileSync } from "node:fs";

const path = process.argv[2] ?? "build/resolver.wasm";
// design.md: the budget is 64 KiB; what counts on the hit path is cost, not bytes.
const MAX_BYTES = 64 * 1024;
const bytes = readFileSync(path);
const mod = new WebAssembly.Module(bytes);
const problems = [];

for (const imp of WebAssembly.Module.imports(mod)) {
  if (imp.module !== "env" || !imp.name.startsWith("proxy_") || imp.kind !== "function") {
    problems.push(`unexpected import ${imp.module}.${imp.name} (${imp.kind})`);
  }
}
const exports = new Set(WebAssembly.Module.exports(mod).map((e) => e.name));
for (const name of ["proxy_abi_version_0_2_1", "proxy_on_memory_allocate", "_initialize", "memory",
  "proxy_on_context_create", "proxy_on_configure", "proxy_on_tick", "proxy_on_request_headers",
  "proxy_on_http_call_response", "proxy_on_delete"]) {
  if (!exports.has(name)) problems.push(`missing export ${name}`);
}
for (const name of exports) {
  if (/^proxy_abi_version_/.test(name) && name !== "proxy_abi_version_0_2_1") problems.push(`extra ABI marker ${name}`);
}
if (bytes.length > MAX_BYTES) problems.push(`size ${bytes.length} B exceeds ${MAX_BYTES} B`);

const imports = WebAssembly.Module.imports(mod).map((i) => i.name).join(", ");
console.log(`${path}: ${bytes.length} B; imports: ${imports}`);
if (problems.length) {
  for (const p of problems) console.error(`error: ${p}`);
  process.exit(1);
}
