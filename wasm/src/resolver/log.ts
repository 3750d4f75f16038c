// The filter's log lines, all prefixed so they stand out in nginx's error log.
import * as host from "../abi/host";

const PREFIX = "set-backend: ";

export function info(message: string): void { host.logInfo(PREFIX + message); }
export function warn(message: string): void { host.logWarn(PREFIX + message); }
export function error(message: string): void { host.logError(PREFIX + message); }
