import { parseConfigString, INT_KEYS, INT_MIN, INT_MAX } from "../../src/resolver/config";
import { DEFAULT_NOT_FOUND_PAGE } from "../../src/resolver/pages";

function errorOf(text: string): string {
  const r = parseConfigString(text);
  expect(r.config).toBeNull();
  return r.error;
}

// as-pect's toContain is for arrays; strings are checked with includes().
function expectError(text: string, fragment: string): void {
  const error = errorOf(text);
  expect(error.includes(fragment)).toBe(true, "\"" + error + "\" should include \"" + fragment + "\"");
}

describe("plugin configuration", () => {
  it("has a range for every integer key (the ranges are read unchecked)", () => {
    expect(INT_MIN.length).toBe(INT_KEYS.length);
    expect(INT_MAX.length).toBe(INT_KEYS.length);
  });

  it("defaults everything when empty", () => {
    const c = parseConfigString("").config!;
    expect(c.resolverCluster).toBe("route_api");
    expect(c.positiveTtlMs).toBe(30_000);
    expect(c.negativeTtlMs).toBe(2_000);
    expect(c.tickMs).toBe(100);
    expect(c.feedTtlMs).toBe(21_600_000);
    expect(c.notFoundPage).toBe(DEFAULT_NOT_FOUND_PAGE);
    expect(parseConfigString("  {}  ").config).not.toBeNull();
  });

  it("reads every key", () => {
    const c = parseConfigString(
      '{"resolver_cluster":"api","resolver_authority":"api.internal","positive_ttl_ms":5000,' +
      '"negative_ttl_ms":100,"error_ttl_ms":300,"max_stale_ms":0,"callout_timeout_ms":250,' +
      '"poll_wait_ms":0,"poll_retry_ms":50,"lease_ttl_ms":900,"tick_ms":200,"max_pending_hosts":3,"feed_ttl_ms":7200000,' +
      '"not_found_page":"nf {host}","unavailable_page":"u {host}"}').config!;
    expect(c.resolverCluster).toBe("api");
    expect(c.resolverAuthority).toBe("api.internal");
    expect(c.positiveTtlMs).toBe(5000);
    expect(c.negativeTtlMs).toBe(100);
    expect(c.errorTtlMs).toBe(300);
    expect(c.maxStaleMs).toBe(0);
    expect(c.calloutTimeoutMs).toBe(250);
    expect(c.pollWaitMs).toBe(0);
    expect(c.pollRetryMs).toBe(50);
    expect(c.leaseTtlMs).toBe(900);
    expect(c.tickMs).toBe(200);
    expect(c.maxPendingHosts).toBe(3);
    expect(c.feedTtlMs).toBe(7_200_000);
    expect(c.notFoundPage).toBe("nf {host}");
    expect(c.unavailablePage).toBe("u {host}");
  });

  it("refuses bad input with a message that names the problem", () => {
    expectError("{", "not valid JSON");
    expectError("[]", "must be a JSON object");
    expectError('{"positive_ttl":1}', "unknown key \"positive_ttl\"");
    expectError('{"positive_ttl_ms":0}', "positive_ttl_ms must be an integer from 1 to 86400000");
    expectError('{"positive_ttl_ms":1.5}', "positive_ttl_ms");
    expectError('{"positive_ttl_ms":"30"}', "positive_ttl_ms");
    expectError('{"feed_ttl_ms":604800001}', "feed_ttl_ms must be an integer from 1 to 604800000");
    expectError('{"tick_ms":5}', "tick_ms");
    expectError('{"resolver_cluster":""}', "resolver_cluster");
    expectError('{"resolver_cluster":"a b"}', "resolver_cluster");
    expectError('{"not_found_page":7}', "not_found_page");
    expectError('{"tick_ms":1000,"lease_ttl_ms":2000}', "at least 3 × tick_ms");
  });
});
