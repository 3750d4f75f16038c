#!/usr/bin/env node
// The `set-backend` bin: the CLI is TypeScript, run through tsx as the rest of
// the repository is. register() adds tsx's loader to this process only.
import { register } from "tsx/esm/api";

register();
await import("./main.ts");
