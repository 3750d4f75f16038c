// The route API service: `make api` runs this file.
import { mkdirSync } from "node:fs";
import { loadToken } from "./auth.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { createLogger } from "./log.ts";
import { startService } from "./service.ts";

const logger = createLogger();

async function main(): Promise<void> {
  const config = loadConfig();
  mkdirSync(config.stateDir, { recursive: true, mode: 0o755 });
  const { token, generated } = loadToken(config.apiToken, config.apiTokenFile);
  if (generated) {
    // Shown once, on the terminal, not in the JSON log stream.
    process.stderr.write(`\nAPI token generated and saved to ${config.apiTokenFile}:\n\n    ${token}\n\n`);
  }
  const service = await startService(config, token, logger);
  logger.info(
    {
      public: service.publicAddress,
      internal: service.internalAddress,
      state_dir: config.stateDir,
      entries: service.store.count(),
      seq: service.store.seq,
    },
    "route API listening",
  );

  let stopping = false;
  const onSignal = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping: draining requests in flight");
    await service.stop();
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) logger.fatal(error.message);
  else logger.fatal({ err: error }, "route API failed to start");
  process.exit(1);
});
