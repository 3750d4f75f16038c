-- wrk script: Host headers drawn from a Zipf distribution (exponent 1) over
-- ZIPF_HOSTS sites, rank k ≈ 1/k: a few hosts get most requests, most hosts
-- are asked rarely, as on a hosting platform. Sampled by inverting the
-- continuous approximation of the distribution's CDF, k = floor((N+1)^u),
-- which needs no table. At the end, one JSON line like bench/routing/hosts.lua.
local hosts = tonumber(os.getenv("ZIPF_HOSTS") or "1000000")
local logN = math.log(hosts + 1)
local seeded = false

request = function()
  if not seeded then
    -- One stream per thread; the same sequence for every run of the benchmark.
    math.randomseed(tonumber(os.getenv("ZIPF_SEED") or "20261129"))
    seeded = true
  end
  local k = math.floor(math.exp(math.random() * logN))
  if k > hosts then k = hosts end
  return wrk.format("GET", "/", { ["Host"] = "site-" .. k .. ".bench.test" })
end

-- RESULT line at the end (bench/routing/result.lua; wrk.ts says where it is).
dofile(os.getenv("BENCH_RESULT_LUA"))
