-- wrk script that drives blackbox_exporter's /probe endpoint:
--   wrk -t1 -c64 -d120s --timeout 30s -s bench/blackbox-driver.lua URL -- LIMIT PATH...
--   wrk ... -s bench/blackbox-driver.lua URL -- LIMIT @FILE    (the PATHs one a line)
-- It cycles through the PATHs (one /probe?target=... per target), checks that
-- every response is a 200 whose body reports "probe_success 1", and exits as
-- soon as LIMIT responses are in, printing one JSON line. wrk itself would run
-- for the whole -d; that bound only stops a run that never reaches LIMIT.
-- Time is taken from the first request sent to the LIMIT-th response.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local clock = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) / 1e9
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

local requests = {}
local limit = 0
sent, responses, succeeded, firstFailure = 0, 0, 0, ""
local started

function init(args)
  limit = tonumber(args[1])
  for i = 2, #args do
    if string.sub(args[i], 1, 1) == "@" then
      for path in io.lines(string.sub(args[i], 2)) do
        requests[#requests + 1] = wrk.format("GET", path)
      end
    else
      requests[#requests + 1] = wrk.format("GET", args[i])
    end
  end
end

function request()
  if not started then started = now() end
  sent = sent + 1
  return requests[(sent - 1) % #requests + 1]
end

local function jsonString(text)
  return '"' .. text:gsub('[%c"\\]', function(c) return c == '"' and '\\"' or c == "\\" and "\\\\" or " " end) .. '"'
end

local function report(seconds, complete)
  io.write(string.format('{"responses":%d,"succeeded":%d,"sent":%d,"seconds":%.6f,"complete":%s,"firstFailure":%s}\n',
    responses, succeeded, sent, seconds, complete and "true" or "false", jsonString(firstFailure)))
  io.flush()
end

function response(status, headers, body)
  responses = responses + 1
  if status == 200 and string.find(body, "\nprobe_success 1\n", 1, true) then
    succeeded = succeeded + 1
  elseif firstFailure == "" then
    firstFailure = "status " .. status .. ": " .. string.sub(body or "", 1, 300)
  end
  if responses >= limit then
    report(now() - started, true)
    os.exit(0)
  end
end

-- Reached only when LIMIT was not: the -d bound ran out first.
function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    responses = thread:get("responses")
    succeeded = thread:get("succeeded")
    sent = thread:get("sent")
    firstFailure = thread:get("firstFailure")
  end
  report(summary.duration / 1e6, false)
end
