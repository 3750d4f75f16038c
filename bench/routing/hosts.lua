-- wrk script: every request carries one of HOSTS distinct Host headers
-- (site-1.bench.test … site-HOSTS.bench.test, round robin per thread), and at the
-- end one JSON line with the latency percentiles in µs (wrk's own summary
-- stops at p99).
local hosts = tonumber(os.getenv("BENCH_HOSTS") or "1000")
local first = tonumber(os.getenv("BENCH_FIRST_HOST") or "1")
local i = 0

request = function()
  i = i % hosts + 1
  return wrk.format("GET", "/", { ["Host"] = "site-" .. (first + i - 1) .. ".bench.test" })
end

-- RESULT line at the end (bench/routing/result.lua; wrk.ts says where it is).
dofile(os.getenv("BENCH_RESULT_LUA"))
