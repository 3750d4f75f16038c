// What the package tests share: the .debs `make deb` built, dpkg, and waiting.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import net from "node:net";
import { basename, join, resolve } from "node:path";

export const root = resolve(import.meta.dirname, "../..");
export const version = `${(JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version}-1`;
export const MODULE_PACKAGE = "libnginx-mod-http-set-backend";
export const API_PACKAGE = "set-backend-api";

/** build/deb/<package>_<version>_amd64.deb, which `make deb` writes. */
export function debOf(name: string): string {
  const path = join(root, "build/deb", `${name}_${version}_amd64.deb`);
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`make deb\` first`);
  return path;
}

export function installed(name: string): string | undefined {
  const result = spawnSync("dpkg-query", ["-W", "-f=${Status} ${Version}", name], { encoding: "utf8" });
  return result.status === 0 ? result.stdout : undefined;
}

/** dpkg with its arguments; waits while another dpkg or apt holds the lock; throws with dpkg's output on failure. */
export async function dpkg(...args: string[]): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const result = spawnSync("dpkg", args, { encoding: "utf8", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    const output = result.stdout + result.stderr;
    if (result.status === 0) return output;
    if (/lock/i.test(output) && attempt < 60) {
      await sleep(2000);
      continue;
    }
    throw new Error(`dpkg ${args.join(" ")} failed (${result.status}):\n${output}`);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

export function connects(target: string | number): Promise<boolean> {
  return new Promise((resolveConnect) => {
    const socket = typeof target === "number" ? net.connect(target, "127.0.0.1") : net.connect(target);
    socket.once("connect", () => (socket.destroy(), resolveConnect(true)));
    socket.once("error", () => resolveConnect(false));
  });
}

/** A copy of `deb` with another version, as the next release would be (for the upgrade test). */
export function withVersion(deb: string, newVersion: string, dir: string): string {
  const name = basename(deb).split("_")[0]!;
  const tree = join(dir, `${name}-tree`);
  execFileSync("rm", ["-rf", tree]);
  execFileSync("dpkg-deb", ["-R", deb, tree]);
  const control = join(tree, "DEBIAN/control");
  execFileSync("sed", ["-i", `s/^Version: .*/Version: ${newVersion}/`, control]);
  const out = join(dir, `${name}_${newVersion}_amd64.deb`);
  execFileSync("dpkg-deb", ["--root-owner-group", "-Zgzip", "-z1", "--build", tree, out], { stdio: "ignore" });
  return out;
}
