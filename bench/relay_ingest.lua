-- wrk script for bench/relay_ingest.sh: each request carries the next of a list of distinct,
-- pre-sealed bundles, exactly once. Against the relay it is a one-request tus creation
-- (POST /v1/uploads with Upload-Length, Upload-Metadata sha256 and the body); against the nginx
-- anchor, a WebDAV PUT of the same body to /dav/<sha256>. No request repeats a bundle (creation
-- is idempotent by hash: a repeat would be answered without being stored), so every counted
-- request is a first-pass upload.
--
-- wrk always runs for its whole -d, so the script times itself: each thread notes (monotonic
-- clock) when it sends its first upload and when its last answer arrives, prints a "THREAD" line
-- then, and its connections fall silent (delay()). relay_ingest.sh stops wrk with SIGINT once
-- every thread has printed; done() then prints the "RESULT" line:
--   rate = uploads stored / (last answer of any thread - first upload of any thread).
--
-- Environment: BENCH_MODE (relay | nginx), BENCH_LIST (lines "path size sha256-hex
-- base64-of-the-hex"), BENCH_THREADS (wrk's -t, equal to -c), BENCH_TOKENS (upload tokens separated by
-- spaces: thread i uses the (i mod count)-th, as each connection were a device of its own).

local ffi = require("ffi")
ffi.cdef [[
  struct timespec { long tv_sec; long tv_nsec; };
  int clock_gettime(int clock_id, struct timespec *tp);
]]
local function now()
  local ts = ffi.new("struct timespec")
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC: one clock for every thread
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local mode = os.getenv("BENCH_MODE")
local list = os.getenv("BENCH_LIST")
local nthreads = tonumber(os.getenv("BENCH_THREADS"))
local tokens = {}
for t in (os.getenv("BENCH_TOKENS") or ""):gmatch("%S+") do table.insert(tokens, t) end

-- Main state: number the threads (one per connection) so each takes every nthreads-th bundle.
local threads = {}
function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

-- Thread state. Globals are the ones done() reads through thread:get.
local entries, next_entry, answered = {}, 1, 0
stored, refused, t_first, t_last = 0, 0, 0, 0

local function report()
  io.write(string.format("THREAD %d stored=%d refused=%d\n", thread_index, stored, refused))
  io.flush()
end

function init(args)
  if #tokens > 0 then token = tokens[thread_index % #tokens + 1] else token = "" end
  local i = 0
  for line in io.lines(list) do
    if i % nthreads == thread_index then table.insert(entries, line) end
    i = i + 1
  end
  if #entries == 0 then report() end  -- fewer bundles than connections: nothing to do
end

-- Once this thread's share is answered, its connection waits (an hour: past the run).
function delay()
  if answered >= #entries then return 3600 * 1000 end
  return 0
end

-- One connection per thread (wrk -t N -c N), so "an upload is awaiting its answer" is known
-- here. That matters: over TLS, when SSL_write cannot take a whole request at once, wrk asks
-- request() again before retrying the write, and OpenSSL requires the retry to pass the very same
-- bytes. So while an upload awaits its answer, request() returns the same string (and after a
-- broken connection, that upload is simply sent again).
local pending
function request()
  if pending then return pending end
  local line = entries[math.min(next_entry, #entries)]
  if next_entry == 1 then t_first = now() end
  next_entry = next_entry + 1
  local path, size, sha, meta = line:match("^(%S+) (%d+) (%x+) (%S+)$")
  local f = assert(io.open(path, "rb"))
  local body = f:read("*a")
  f:close()
  if mode == "relay" then
    pending = wrk.format("POST", "/v1/uploads", {
      ["Tus-Resumable"] = "1.0.0",
      ["Authorization"] = "Bearer " .. token,
      ["Upload-Length"] = size,
      ["Upload-Metadata"] = "sha256 " .. meta,
      ["Content-Type"] = "application/offset+octet-stream",
    }, body)
  else
    pending = wrk.format("PUT", "/dav/" .. sha, {["Content-Type"] = "application/octet-stream"},
                         body)
  end
  return pending
end

-- Stored: 201 with Upload-State: stored from the relay (new, complete, verified, durable), 201
-- Created from nginx. Anything else is counted as refused, and the first few are shown.
function response(status, headers, body)
  if answered >= #entries then return end
  pending = nil
  answered = answered + 1
  if status == 201 and (mode == "nginx" or headers["Upload-State"] == "stored") then
    stored = stored + 1
  else
    refused = refused + 1
    if refused <= 3 then io.stderr:write("refused: " .. status .. " " .. (body or "") .. "\n") end
  end
  if answered == #entries then
    t_last = now()
    report()
  end
end

function done(summary, latency, requests)
  local total_stored, total_refused, first, last = 0, 0, math.huge, 0
  for _, t in ipairs(threads) do
    total_stored = total_stored + t:get("stored")
    total_refused = total_refused + t:get("refused")
    if t:get("t_first") > 0 then first = math.min(first, t:get("t_first")) end
    last = math.max(last, t:get("t_last"))
  end
  local seconds = last - first
  io.write(string.format("RESULT mode=%s uploads=%d refused=%d seconds=%.3f rate=%.1f " ..
                         "p50_ms=%.1f p99_ms=%.1f\n", mode, total_stored, total_refused, seconds,
                         total_stored / seconds, latency:percentile(50) / 1000,
                         latency:percentile(99) / 1000))
end
