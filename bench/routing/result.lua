-- The end of every wrk script of the benchmarks: one line, RESULT {json}, with
-- the counts and latency percentiles in µs (wrk's own summary stops at p99).
-- Loaded with dofile from the scripts; it defines wrk's `done` callback.
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"p50":%d,"p99":%d,"p999":%d,"max":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), latency.max, errors.status, errors.connect, errors.read,
    errors.write, errors.timeout))
end
