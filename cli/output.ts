// What a command prints: for people by default, one JSON document (or NDJSON
// for listings) with --json. Errors go to stderr in one line either way.
import type { CliError } from "./exit.ts";

// The API's import error lists up to 100 bad lines; a terminal gets the first few.
const SHOWN_PROBLEMS = 10;

export class Output {
  constructor(readonly json: boolean) {}

  /** One result: `human` for people, `data` as JSON for scripts. */
  result(human: string, data: unknown): void {
    process.stdout.write(this.json ? JSON.stringify(data) + "\n" : human + "\n");
  }

  /** A note for people (progress, phases): stderr, so stdout stays data. */
  note(text: string): void {
    if (!this.json) process.stderr.write(text + "\n");
  }

  error(error: CliError): void {
    if (this.json) {
      process.stderr.write(JSON.stringify({ error: error.code, message: error.message, exit: error.exit, ...error.details }) + "\n");
      return;
    }
    let text = `set-backend: ${error.message}\n`;
    const lines = error.details.lines;
    if (Array.isArray(lines)) {
      for (const problem of lines.slice(0, SHOWN_PROBLEMS) as { line: number; message: string }[]) {
        text += `  line ${problem.line}: ${problem.message}\n`;
      }
      if (lines.length > SHOWN_PROBLEMS) text += `  … (--json lists up to ${lines.length})\n`;
    }
    process.stderr.write(text);
  }
}
