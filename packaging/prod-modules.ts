// Copies the route API's production npm packages from the clone's node_modules
// (installed by `npm ci` from package-lock.json) into a package's staging tree,
// keeping npm's layout. Left out: devDependencies, and tsx, the TypeScript loader
// that `make run` and the in-clone `set-backend` bin use — the packages run
// JavaScript compiled by api/tsconfig.build.json.
//   node --import=tsx packaging/prod-modules.ts <destination directory>
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";

const LEFT_OUT = new Set(["tsx"]);

interface LsNode {
  path?: string;
  dependencies?: Record<string, LsNode>;
}

const root = resolve(import.meta.dirname, "..");
const destination = process.argv[2];
if (!destination) throw new Error("usage: prod-modules.ts <destination directory>");

const tree = JSON.parse(
  execFileSync("npm", ["ls", "--omit=dev", "--all", "--json", "--long"], { cwd: root, encoding: "utf8", maxBuffer: 64 << 20 }),
) as LsNode;

// npm ls prints a package's dependencies once and marks later mentions "deduped":
// index every full entry by path first, then walk from the kept top-level packages.
const byPath = new Map<string, LsNode>();
(function index(node: LsNode): void {
  for (const child of Object.values(node.dependencies ?? {})) {
    if (!child.path) continue; // an optional package for another platform
    const known = byPath.get(child.path);
    if (!known || Object.keys(child.dependencies ?? {}).length > Object.keys(known.dependencies ?? {}).length) byPath.set(child.path, child);
    index(child);
  }
})(tree);

const kept = new Set<string>();
(function walk(children: Record<string, LsNode>): void {
  for (const child of Object.values(children)) {
    if (!child.path || kept.has(child.path)) continue;
    kept.add(child.path);
    walk(byPath.get(child.path)?.dependencies ?? {});
  }
})(Object.fromEntries(Object.entries(tree.dependencies ?? {}).filter(([name]) => !LEFT_OUT.has(name))));

for (const path of [...kept].sort()) {
  const target = join(destination, relative(root, path));
  mkdirSync(target, { recursive: true });
  // A nested node_modules holds other packages, copied (or not) on their own.
  cpSync(path, target, { recursive: true, filter: (source) => !relative(path, source).split(sep).includes("node_modules") });
}
process.stderr.write(`prod-modules: ${kept.size} npm packages\n`);
