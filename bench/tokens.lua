-- Send one form-encoded verify request per token, each token once.
-- TOKENS_FILE holds "secret" on line 1, then one token per line; TOKEN_OFFSET
-- skips the tokens that an earlier run used.

local tokens = {}
local secret
local counter = 0
local thread_count = tonumber(os.getenv("WRK_THREADS") or "1")
-- Globals, so that setup() and done() can reach them through thread:get/set.
thread_index = 0
failures = 0

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  local path = os.getenv("TOKENS_FILE")
  local first = true
  for line in io.lines(path) do
    if first then secret = line; first = false
    else table.insert(tokens, line) end
  end
  counter = thread_index + tonumber(os.getenv("TOKEN_OFFSET") or "0")
end

function request()
  -- Threads take interleaved tokens, so no two requests share one.
  local token = tokens[(counter % #tokens) + 1]
  counter = counter + thread_count
  local body = "secret=" .. secret .. "&response=" .. token
  return wrk.format("POST", nil,
    {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"success":true', 1, true) then
    failures = failures + 1
  end
end

function done(summary, latency, requests)
  local total_failures = 0
  for _, thread in ipairs(threads) do
    total_failures = total_failures + thread:get("failures")
  end
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d failures=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), total_failures,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.status + summary.errors.timeout))
end
