-- Replays a prepared list of requests (one per line: METHOD \t PATH \t TOKEN \t IDEMPOTENCY-KEY \t BODY),
-- each wrk thread taking every n-th line, with an optional pause per connection between requests
-- (think time), and prints a JSON summary: latency percentiles, requests, statuses.
local lines = {}
counts = {}
local position = 0
local stride = 1
local think = 0
threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "r"))
  for line in file:lines() do lines[#lines + 1] = line end
  file:close()
  stride = tonumber(args[2])
  think = tonumber(args[3])
  position = tid
end

function request()
  local line = lines[(position % #lines) + 1]
  position = position + stride
  local method, path, token, key, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t?(.*)$")
  local headers = { ["Authorization"] = "Bearer " .. token }
  if key ~= "" then headers["Idempotency-Key"] = key end
  if body ~= "" then
    headers["Content-Type"] = "application/json"
    return wrk.format(method, path, headers, body)
  end
  return wrk.format(method, path, headers)
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function delay()
  if think > 0 then return math.random(math.floor(think / 2), think + math.floor(think / 2)) end
  return 0
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local c = thread:get("counts")
    for status, n in pairs(c) do total[status] = (total[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(total) do parts[#parts + 1] = string.format('"%d": %d', status, n) end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"duration_us": %d, "requests": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, "statuses": {%s}}\n',
    summary.duration, summary.requests, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.timeout, table.concat(parts, ", ")))
end
