// A runtime directory of the soak's own for `make run` (RUNTIME_DIR), instead of
// its default /run/set-backend/<id>: /run/set-backend is also the packaged
// route API's systemd RuntimeDirectory (removed when that service stops) and
// the package test removes it, which on a shared machine pulled the socket and
// the error pages from under a running soak (every lookup failed from then on).
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ExecutionContext } from "ava";

export function ownRuntimeDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), "set-backend-soak-"));
  // nginx's workers (www-data) must traverse it; make run gives it their group.
  chmodSync(dir, 0o755);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
