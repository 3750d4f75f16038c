// Runs a systemd service the way its unit would, on a machine where systemd is not
// PID 1 (CI's, containers): the unit's ExecStart as its User/Group and
// SupplementaryGroups, with its Environment= and EnvironmentFile= and UMask=, after
// creating its StateDirectory= and RuntimeDirectory= with their modes and owner.
// The sandboxing options (ProtectSystem= and the rest) need systemd; `systemd-analyze
// verify` checks them.
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { lookupAccount } from "../../scripts/runtime-dir.ts";

export interface Unit {
  /** Every `Key=value` of the [Service] section, in order, values of repeated keys kept. */
  service: Map<string, string[]>;
}

export function parseUnit(text: string): Unit {
  const service = new Map<string, string[]>();
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    const eq = line.indexOf("=");
    if (section !== "Service" || eq < 0) continue;
    const key = line.slice(0, eq).trim();
    service.set(key, [...(service.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return { service };
}

function one(unit: Unit, key: string): string | undefined {
  return unit.service.get(key)?.at(-1);
}

/** systemd's EnvironmentFile syntax, the part package files use: KEY=value lines, comments, optional quotes. */
export function parseEnvironmentFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!match) throw new Error(`not an environment line: ${JSON.stringify(line)}`);
    env[match[1]!] = match[2]!.replace(/^"(.*)"$|^'(.*)'$/, "$1$2");
  }
  return env;
}

/** The environment systemd gives the service: its basics, then Environment=, then EnvironmentFile= (which overrides). */
export function unitEnvironment(unit: Unit): Record<string, string> {
  const user = one(unit, "User");
  const env: Record<string, string> = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8" };
  if (user) {
    const home = readFileSync("/etc/passwd", "utf8").split("\n").map((l) => l.split(":")).find((f) => f[0] === user)?.[5];
    Object.assign(env, { USER: user, LOGNAME: user, HOME: home ?? "/" });
  }
  for (const value of unit.service.get("Environment") ?? []) {
    for (const assignment of value.split(/\s+/)) {
      const eq = assignment.indexOf("=");
      env[assignment.slice(0, eq)] = assignment.slice(eq + 1);
    }
  }
  for (const value of unit.service.get("EnvironmentFile") ?? []) {
    const optional = value.startsWith("-");
    const path = optional ? value.slice(1) : value;
    if (!existsSync(path)) {
      if (optional) continue;
      throw new Error(`EnvironmentFile ${path} is missing`);
    }
    Object.assign(env, parseEnvironmentFile(readFileSync(path, "utf8")));
  }
  return env;
}

/** Creates StateDirectory= and RuntimeDirectory= as systemd does: owned by the unit's user, with their modes. */
function prepareDirectories(unit: Unit): void {
  const user = lookupAccount(one(unit, "User") ?? "root");
  const group = one(unit, "Group");
  const gid = group ? Number(readFileSync("/etc/group", "utf8").split("\n").map((l) => l.split(":")).find((f) => f[0] === group)?.[2]) : user?.gids[0];
  if (!user || gid === undefined || Number.isNaN(gid)) throw new Error("the unit's User or Group does not exist");
  for (const [key, base, fallbackMode] of [
    ["StateDirectory", "/var/lib", 0o755],
    ["RuntimeDirectory", "/run", 0o755],
  ] as const) {
    const name = one(unit, key);
    if (!name) continue;
    const dir = join(base, name);
    mkdirSync(dir, { recursive: true });
    chownSync(dir, user.uid, gid);
    chmodSync(dir, Number.parseInt(one(unit, `${key}Mode`) ?? fallbackMode.toString(8), 8));
  }
}

/** Starts the unit's ExecStart as the unit would run it; `stdio` "pipe" so the caller can collect the output. */
export function startAsUnit(unit: Unit): ChildProcess {
  const execStart = one(unit, "ExecStart");
  if (!execStart) throw new Error("the unit has no ExecStart");
  prepareDirectories(unit);
  const user = one(unit, "User") ?? "root";
  const group = one(unit, "Group") ?? user;
  const supplementary = (unit.service.get("SupplementaryGroups") ?? []).flatMap((v) => v.split(/\s+/)).filter(Boolean);
  const setpriv = [
    "setpriv",
    `--reuid=${user}`,
    `--regid=${group}`,
    supplementary.length ? `--groups=${supplementary.join(",")}` : "--clear-groups",
    ...(one(unit, "NoNewPrivileges") === "yes" ? ["--no-new-privs"] : []),
    // CapabilityBoundingSet= (empty): no capabilities at all.
    ...(one(unit, "CapabilityBoundingSet") === "" ? ["--bounding-set=-all", "--inh-caps=-all"] : []),
    "--",
    ...execStart.split(/\s+/),
  ];
  const umask = one(unit, "UMask") ?? "0022";
  return spawn("sh", ["-c", `umask ${umask} && exec "$@"`, "sh", ...setpriv], {
    env: unitEnvironment(unit),
    cwd: "/",
    stdio: ["ignore", "pipe", "pipe"],
  });
}
