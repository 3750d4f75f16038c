// Entry of build/normalize-vectors.wasm: the filter's host normalization alone,
// so tests/filter/normalize-vectors.test.ts can run the shared vectors file
// (tests/vectors/hosts.json) through the exact code the filter runs.
import { normalizeHost } from "../resolver/normalize";

/** The normalized host, or "" when the input is not a DNS name. */
export function normalize(input: string): string {
  const out = normalizeHost(input);
  return out === null ? "" : out;
}
