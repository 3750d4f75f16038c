// The abort handler named by `--use abort=...` in asconfig.json. Replaces
// AssemblyScript's default `env.abort` import: it logs through proxy_log and
// traps, so the host fails only the current callback.
import { proxy_log } from "./imports";
import { LogLevel } from "./types";
import { decimal } from "../util/decimal";

let aborting = false;

export function abortFilter(message: string | null, fileName: string | null, line: u32, column: u32): void {
  // A second abort while building the log line (e.g. out of memory) must not recurse.
  if (!aborting) {
    aborting = true;
    const text = "set-backend filter aborted: " + (message !== null ? message : "") +
      " at " + (fileName !== null ? fileName : "?") + ":" + decimal(line) + ":" + decimal(column);
    const bytes = String.UTF8.encode(text);
    proxy_log(LogLevel.Critical, changetype<usize>(bytes), <usize>bytes.byteLength);
  }
  unreachable();
}
