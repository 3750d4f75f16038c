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

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"p50":%d,"p99":%d,"p999":%d,"max":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), latency.max, errors.status, errors.connect, errors.read,
    errors.write, errors.timeout))
end
