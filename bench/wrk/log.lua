-- Logging load for wrk: each request logs a new five-minute session for the next officer,
-- in ten-minute slots after BENCH_BASE (epoch seconds), so sessions never overlap.
-- BENCH_MODE=service also re-sends the previous request every 50th time (a client retry:
-- it must come back 200 with the stored record and create nothing).
-- Acknowledged client_refs go to BENCH_ACKS/acks-<thread>.txt for the lost-write check.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
  writers = {}
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    local token, officer, user = line:match("(%S+) (%d+) (%d+)")
    if token then
      table.insert(writers, {token = token, officer = officer, user = user})
    end
  end
  nthreads = tonumber(os.getenv("BENCH_THREADS"))
  base = tonumber(os.getenv("BENCH_BASE"))
  run = tonumber(os.getenv("BENCH_RUN"), 16)
  mode = os.getenv("BENCH_MODE")
  acks = io.open(os.getenv("BENCH_ACKS") .. "/acks-" .. tid .. ".txt", "w")
  counter = 0
  previous = nil
end

local function stamp(epoch)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", epoch)
end

function request()
  counter = counter + 1
  if mode == "service" and previous ~= nil and counter % 50 == 0 then
    return previous
  end
  local n = (counter - 1) * nthreads + tid
  local writer = writers[(n % #writers) + 1]
  local start = base + math.floor(n / #writers) * 600
  local ref = string.format("%08x-%04x-4000-8000-%012x", run, tid, n)
  local body = string.format(
    '{"started_at":"%s","ended_at":"%s","material":"image","category":"C",' ..
    '"violent":false,"items_reviewed":120,"client_ref":"%s"}',
    stamp(start), stamp(start + 300), ref)
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. writer.token,
    ["X-Bench-Officer"] = writer.officer,
    ["X-Bench-User"] = writer.user,
  }
  previous = wrk.format("POST", nil, headers, body)
  return previous
end

function response(status, headers, body)
  if status == 200 or status == 201 then
    local ref = body:match('"client_ref":%s*"([%x%-]+)"')
    if ref then
      acks:write(ref, "\n")
      acks:flush()
    end
  end
end

