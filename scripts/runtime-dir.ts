// `make run`'s runtime directory: the one place nginx's workers open at request
// time — the route API's internal socket, the error pages, nginx's temporary
// directories. The master (root) reads the module, the filter and nginx.conf
// before it drops privileges, so those may stay in a private clone; STATE_DIR
// (routes, token) stays private too. As root the directory is mode 0750 with the
// workers' group: workers can traverse it and read the pages, other users cannot,
// and the socket in it is mode 0660 for the API's user and that group only.
import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname, join, resolve } from "node:path";

export interface Account {
  name: string;
  uid: number;
  /** Primary group first, then supplementary groups. */
  gids: number[];
}

function table(path: string): string[][] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line && !line.startsWith("#"))
    .map((line) => line.split(":"));
}

/** A user's uid and groups from /etc/passwd and /etc/group; undefined when there is no such user. */
export function lookupAccount(name: string): Account | undefined {
  const entry = table("/etc/passwd").find((fields) => fields[0] === name);
  if (!entry) return undefined;
  const gid = Number(entry[3]);
  const supplementary = table("/etc/group")
    .filter((fields) => (fields[3] ?? "").split(",").includes(name))
    .map((fields) => Number(fields[2]));
  return { name, uid: Number(entry[2]), gids: [gid, ...supplementary.filter((g) => g !== gid)] };
}

/**
 * The first existing directory above `path` that `account` cannot traverse, if any.
 * Directories still missing are created by make run, traversable; `path` itself
 * is given the workers' group by prepareRuntimeDir.
 */
export function untraversable(path: string, account: Account): string | undefined {
  const chain: string[] = [];
  for (let dir = dirname(resolve(path)); ; dir = dirname(dir)) {
    chain.unshift(dir);
    if (dir === dirname(dir)) break;
  }
  for (const dir of chain) {
    let stat;
    try {
      stat = statSync(dir);
    } catch {
      return undefined; // missing from here on
    }
    const { mode, uid, gid } = stat;
    const allowed = uid === account.uid ? mode & 0o100 : account.gids.includes(gid) ? mode & 0o010 : mode & 0o001;
    if (!allowed) return dir;
  }
  return undefined;
}

/** Where `make run` puts it unless RUNTIME_DIR says otherwise: one per STATE_DIR. */
export function defaultRuntimeDir(stateDir: string): string {
  if (process.getuid?.() !== 0) {
    // Not root: nginx cannot switch users, its workers run as this user and reach STATE_DIR.
    return join(stateDir, "run");
  }
  // /run is root's, on tmpfs, and its short paths keep the socket under the 107-byte limit.
  const id = createHash("sha256").update(stateDir).digest("hex").slice(0, 16);
  return join("/run/set-backend", id);
}

/** Creates the missing directories of `path` mode 0755 whatever the umask (root's may be 077). */
function mkdirTraversable(path: string): void {
  const missing: string[] = [];
  for (let dir = resolve(path); !existsSync(dir); dir = dirname(dir)) missing.unshift(dir);
  for (const dir of missing) {
    mkdirSync(dir);
    chmodSync(dir, 0o755);
  }
}

/**
 * Creates (or takes over) the runtime directory and copies the error pages into it.
 * `group` is the workers' gid when running as root. Returns the pages' directory.
 * Throws with a one-line reason when the directory cannot be used.
 */
export function prepareRuntimeDir(dir: string, pagesFrom: string, group: number | undefined): string {
  mkdirTraversable(dirname(dir));
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  const stat = lstatSync(dir);
  // Someone else's directory, or a symlink to one, must not receive our socket.
  if (!stat.isDirectory()) throw new Error(`${dir} is not a directory`);
  if (stat.uid !== process.getuid?.()) throw new Error(`${dir} belongs to uid ${stat.uid}, not to the user running make run`);
  if (group !== undefined) chownSync(dir, stat.uid, group);
  chmodSync(dir, group === undefined ? 0o700 : 0o750);
  const pages = join(dir, "pages");
  rmSync(pages, { recursive: true, force: true });
  cpSync(pagesFrom, pages, { recursive: true });
  // Readable whatever the clone's umask was; the directory above keeps other users out.
  chmodSync(pages, 0o755);
  for (const file of readdirSync(pages)) chmodSync(join(pages, file), 0o644);
  return pages;
}
