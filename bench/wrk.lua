-- wrk script for the HTTP benchmark: cycles through prepared requests, prints one JSON line.
--
--   wrk -t2 -c32 -d5s -s bench/wrk.lua http://127.0.0.1:8100 -- requests.tsv
--
-- Each line of requests.tsv: METHOD \t PATH?QUERY \t BODY \t CONTENT-TYPE \t AUTHORIZATION
-- (empty fields allowed). Every thread starts at its own place in the list.

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

local reqs = {}
local idx = 0

function init(args)
  local f = assert(io.open(args[1], "r"))
  for line in f:lines() do
    local method, path, body, ctype, auth =
      line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$")
    local headers = {}
    if ctype ~= "" then headers["Content-Type"] = ctype end
    if auth ~= "" then headers["Authorization"] = auth end
    if body == "" then body = nil end
    reqs[#reqs + 1] = wrk.format(method, path, headers, body)
  end
  f:close()
  idx = ((tid or 1) * 7919) % #reqs
end

function request()
  idx = idx % #reqs + 1
  return reqs[idx]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
