// Worker threads do not inherit the main thread's `--import=tsx` hooks: this
// plain-JS entry registers them, then loads the TypeScript worker.
import { register } from "tsx/esm/api";

register();
await import("./etcd-import-worker.ts");
