-- Read load for wrk: BENCH_TOKENS lines are "<token> <path>"; requests go round them.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
  reads = {}
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    local token, path = line:match("(%S+) (%S+)")
    if token then
      table.insert(reads, wrk.format("GET", path, {["Authorization"] = "Bearer " .. token}))
    end
  end
  counter = tid
end

function request()
  counter = counter + 1
  return reads[(counter % #reads) + 1]
end

