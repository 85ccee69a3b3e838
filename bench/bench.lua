-- bench.lua: wrk script for bench/run.sh.
--
--   wrk -t1 -c64 -d10s -s bench/bench.lua http://127.0.0.1:8010/api/private/ -- \
--       auth=token creds=creds.tsv users=0:900 [method=POST] [body=friend|login]
--
-- Arguments after `--` (key=value):
--   auth=none|token|session  Authorization: Token <t> | Cookie: sessionid=<s> | nothing
--   creds=FILE               lines "username<TAB>password<TAB>token<TAB>sessionid" (seed.py)
--   users=FIRST:END          the lines to rotate over, 0-based, END exclusive (default all)
--   method=GET|POST          (default GET)
--   body=friend              JSON {"name": "wrk friend <n>"}
--   body=login               JSON {"username": <user>, "password": <password>}
--
-- Requests rotate over the users (request k uses user FIRST + k mod count; each wrk thread
-- starts at a different offset), so consecutive requests on a connection, and the 64
-- connections at any moment, belong to different users: no single hot row or cache entry.
-- The requests are formatted once in init(), so the per-request Lua cost is a table lookup.
--
-- done() prints one machine-readable line for run.sh:
--   BENCH requests=N duration_us=N rps=X p50_us=N p90_us=N p99_us=N max_us=N
--         non2xx=N connect=N read=N write=N timeout=N first_bad=<status body...>
-- non2xx counts every status outside 200-299 (wrk's own "Non-2xx or 3xx" line counts only
-- >= 400); response() sees every response. Latency percentiles are wrk's (timed-out
-- requests are not in them, they are counted in timeout=).

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local function parse_args(args)
  local o = { auth = "none", method = "GET" }
  for _, a in ipairs(args) do
    local k, v = a:match("^([%w_]+)=(.*)$")
    if not k then error("bench.lua: bad argument '" .. a .. "' (want key=value)") end
    o[k] = v
  end
  return o
end

local function read_creds(path)
  local rows = {}
  local f = assert(io.open(path, "r"), "bench.lua: cannot open creds file " .. tostring(path))
  for line in f:lines() do
    local u, p, t, s = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$")
    if u then table.insert(rows, { user = u, password = p, token = t, session = s }) end
  end
  f:close()
  return rows
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

local requests = {}
local n, i = 0, 0
non2xx = 0
first_bad = ""

function init(args)
  local o = parse_args(args)
  local rows = {}
  if o.auth ~= "none" or o.body == "login" then
    local all = read_creds(o.creds)
    local first, last = 0, #all
    if o.users and o.users ~= "" then
      local a, b = o.users:match("^(%d+):(%d+)$")
      if not a then error("bench.lua: users=FIRST:END expected, got " .. o.users) end
      first, last = tonumber(a), math.min(tonumber(b), #all)
    end
    for k = first + 1, last do table.insert(rows, all[k]) end
    if #rows == 0 then error("bench.lua: no users selected from " .. o.creds) end
  else
    rows = { {} }
  end
  for k, r in ipairs(rows) do
    local headers = {}
    if o.auth == "token" then
      headers["Authorization"] = "Token " .. r.token
    elseif o.auth == "session" then
      headers["Cookie"] = "sessionid=" .. r.session
    elseif o.auth ~= "none" then
      error("bench.lua: auth must be none, token or session")
    end
    local body = nil
    if o.body == "friend" then
      body = '{"name":"wrk friend ' .. k .. '"}'
    elseif o.body == "login" then
      body = '{"username":' .. json_string(r.user) .. ',"password":' .. json_string(r.password) .. '}'
    elseif o.body then
      error("bench.lua: body must be friend or login")
    end
    if body then headers["Content-Type"] = "application/json" end
    headers["Accept"] = "application/json"
    table.insert(requests, wrk.format(o.method, nil, headers, body))
  end
  n = #requests
  i = (tid or 0) * 7919 % n -- a different starting user per thread
end

function request()
  i = i + 1
  if i > n then i = 1 end
  return requests[i]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if first_bad == "" then
      first_bad = status .. " " .. (body or ""):sub(1, 120):gsub("%s+", " ")
    end
  end
end

function done(summary, latency, requests)
  local bad, first = 0, ""
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non2xx") or 0)
    local fb = t:get("first_bad")
    if first == "" and fb and fb ~= "" then first = fb end
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "non2xx=%d connect=%d read=%d write=%d timeout=%d first_bad=%s\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    bad, e.connect, e.read, e.write, e.timeout, first))
end
