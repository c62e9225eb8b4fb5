-- Post one challenge request per call, each from one of 1000 client
-- addresses (through X-Forwarded-For), and count the responses other than 201.

local sitekey = os.getenv("SITEKEY")
local counter = 0
thread_index = 0
failures = 0

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local address = string.format("10.%d.%d.%d", thread_index, math.floor(counter / 250) % 4, counter % 250 + 1)
  local body = string.format('{"sitekey":"%s","action":"book","lang":"fr"}', sitekey)
  return wrk.format("POST", "/api/v1/challenges", {
    ["Content-Type"] = "application/json",
    ["Origin"] = "http://localhost:8081",
    ["X-Forwarded-For"] = address,
  }, body)
end

function response(status, headers, body)
  if status ~= 201 then failures = failures + 1 end
end

function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do failed = failed + thread:get("failures") end
  io.write(string.format(
    "RESULT requests=%d duration_us=%d failures=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, failed,
    latency:percentile(50), latency:percentile(99)))
end
