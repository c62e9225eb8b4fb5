-- Post one challenge request per call, each from one of ADDRESSES client
-- addresses (through X-Forwarded-For), and count the responses other than
-- 201 and the level of each challenge.

local sitekey = os.getenv("SITEKEY")
local addresses = tonumber(os.getenv("ADDRESSES") or "1000")
local counter = 0
thread_index = 0
failures = 0
levels = {0, 0, 0, 0, 0}

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  -- The threads walk the addresses from far-apart starts.
  local index = (thread_index * 7919 + counter) % addresses
  local address = string.format("10.%d.%d.%d",
    math.floor(index / 65536) % 256, math.floor(index / 256) % 256, index % 256)
  local body = string.format('{"sitekey":"%s","action":"book","lang":"fr"}', sitekey)
  return wrk.format("POST", "/api/v1/challenges", {
    ["Content-Type"] = "application/json",
    ["Origin"] = "http://localhost:8081",
    ["X-Forwarded-For"] = address,
  }, body)
end

function response(status, headers, body)
  if status ~= 201 then
    failures = failures + 1
    return
  end
  local level = tonumber(body:match('"level":(%d)'))
  if level ~= nil then levels[level + 1] = levels[level + 1] + 1 end
end

function done(summary, latency, requests)
  local failed = 0
  local totals = {0, 0, 0, 0, 0}
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("failures")
    local counts = thread:get("levels")
    for level = 1, 5 do totals[level] = totals[level] + counts[level] end
  end
  io.write(string.format(
    "RESULT requests=%d duration_us=%d failures=%d p50_us=%d p99_us=%d"
    .. " level0=%d level1=%d level2=%d level3=%d level4=%d\n",
    summary.requests, summary.duration, failed,
    latency:percentile(50), latency:percentile(99),
    totals[1], totals[2], totals[3], totals[4], totals[5]))
end
