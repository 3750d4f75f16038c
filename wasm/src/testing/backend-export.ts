// Entry of build/backend-vectors.wasm: the filter's backend grammar alone, so
// tests/filter/backend-vectors.test.ts can run the shared vectors file
// (tests/vectors/backends.json) through the exact code the filter runs.
import { backendKind } from "../resolver/backend";

/** 0 invalid, 1 name, 2 IPv4, 3 IPv6, 4 unix (BackendKind). */
export function kindOf(input: string): i32 {
  return backendKind(input);
}
