// set-backend: the route API from the command line. `npx set-backend --help`.
import { readFileSync } from "node:fs";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { Api } from "./client.ts";
import { CliError, EXIT } from "./exit.ts";
import { importRoutes } from "./import.ts";
import { Output } from "./output.ts";
import { add, exportRoutes, get, list, remove } from "./routes.ts";
import { DEFAULT_URL, resolveSettings, type GlobalOptions } from "./settings.ts";
import { status, type EdgeSource } from "./status.ts";

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

// Resolved when a command runs, so that --help works without a token or a reachable API.
function context(command: Command): { api: Api; out: Output } {
  const settings = resolveSettings(command.optsWithGlobals<GlobalOptions>());
  return { api: new Api(settings), out: new Output(settings.json) };
}

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };

function program(): Command {
  const root = new Command("set-backend")
    .description("Manage set-backend's routes (Host → backend) through its route API.")
    .version(version)
    // The environment is read in settings.ts, which also knows where each value came from.
    .option("--url <url>", `the route API's base URL (env SET_BACKEND_URL; default ${DEFAULT_URL})`)
    .option("--token <token>", "the API's bearer token (env SET_BACKEND_TOKEN)")
    .option("--token-file <path>", "read the token from this file (default $STATE_DIR/api-token, STATE_DIR=./.run)")
    .option("--host-header <name>", "Host header to send (env SET_BACKEND_HOST_HEADER; default the URL's host)")
    .option("--json", "print JSON for scripts (listings as one object a line)")
    .exitOverride();
  root.configureOutput({ writeErr: (text) => process.stderr.write(text) });

  const routes = root.command("routes").description("add, read, remove, list, import and export routes");
  routes
    .command("add")
    .description("create or replace the route of a host")
    .argument("<host>", "a DNS name, *.domain (wildcard) or * (catch-all)")
    .argument("<backend>", "host:port or unix:/absolute/path")
    .action(async (host: string, backend: string, _opts, cmd: Command) => {
      const { api, out } = context(cmd);
      await add(api, out, host, backend);
    });
  routes
    .command("get")
    .description("show the route of a host")
    .argument("<host>")
    .action(async (host: string, _opts, cmd: Command) => {
      const { api, out } = context(cmd);
      await get(api, out, host);
    });
  routes
    .command("rm")
    .alias("delete")
    .description("remove the route of a host")
    .argument("<host>")
    .action(async (host: string, _opts, cmd: Command) => {
      const { api, out } = context(cmd);
      await remove(api, out, host);
    });
  routes
    .command("ls")
    .description("list routes sorted by host, page by page")
    .option("--prefix <prefix>", "only hosts starting with this")
    .option("--limit <n>", "at most this many", positiveInt)
    .action(async (opts: { prefix?: string; limit?: number }, cmd: Command) => {
      const { api, out } = context(cmd);
      await list(api, out, opts);
    });
  routes
    .command("import")
    .description("import an NDJSON file ({\"host\",\"backend\"} a line; - for stdin): all lines or none")
    .argument("<file>")
    .option("--progress", "show the progress bar even when stderr is not a terminal")
    .option("--no-progress", "never show the progress bar")
    .action(async (file: string, opts: { progress?: boolean }, cmd: Command) => {
      const { api, out } = context(cmd);
      // commander sets `progress` only when a flag is given; undefined means "on a terminal".
      const given = cmd.getOptionValueSource("progress") === "cli";
      await importRoutes(api, out, file, { progress: given ? opts.progress : undefined });
    });
  routes
    .command("export")
    .description("write every route as NDJSON, sorted by host: what import takes back")
    .option("--prefix <prefix>", "only hosts starting with this")
    .option("-o, --output <file>", "write to this file instead of stdout")
    .action(async (opts: { prefix?: string; output?: string }, cmd: Command) => {
      const { api, out } = context(cmd);
      await exportRoutes(api, out, opts);
    });

  root
    .command("status")
    .description("the API's health, route count and change seq; edge metrics with --edge")
    .option("--edge [url]", "also the nginx edge's metrics: through the API's /edge/metrics, or from this URL (env SET_BACKEND_EDGE_URL)")
    .action(async (opts: { edge?: string | true }, cmd: Command) => {
      const { api, out } = context(cmd);
      const fromEnv = process.env.SET_BACKEND_EDGE_URL || undefined;
      const url = typeof opts.edge === "string" ? opts.edge : fromEnv;
      const edge: EdgeSource | undefined = url !== undefined ? { url } : opts.edge === true ? { via: "api" } : undefined;
      await status(api, out, edge ? { edge } : {});
    });
  return root;
}

// Anything that is not a CliError is reported in one line too; a network error
// mid-stream (the API stopped during an export) still counts as unreachable.
function asCliError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code && /^E(CONN|PIPE|TIMEDOUT|HOST|NET)/.test(code)) {
    return new CliError(EXIT.unreachable, "unreachable", `the connection to the route API broke: ${(error as Error).message}`);
  }
  return new CliError(EXIT.server, "failed", (error as Error)?.message ?? String(error));
}

async function main(argv: string[]): Promise<number> {
  // `set-backend ... | head` closes stdout early: that is the reader's choice, not a failure.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(EXIT.ok);
  });
  const json = argv.includes("--json");
  try {
    await program().parseAsync(argv);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; commander has already printed its one-line usage error.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const failure = asCliError(error);
    new Output(json).error(failure);
    return failure.exit;
  }
}

process.exitCode = await main(process.argv);
