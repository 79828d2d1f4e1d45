-- wrk script for scripts/load: GET requests to distinct random paths (all 404s), a fixed number
-- per thread. wrk always runs for its whole -d duration, so each thread writes a marker file
-- when it has its quota of responses and stops; scripts/load then interrupts wrk.
--
--   wrk -t2 -c32 -d300s -s scripts/load-404.lua http://127.0.0.1:8080 -- <per-thread> <marker>

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

local quota, marker = 50000, nil
local sent, received, unexpected = 0, 0, 0

function init(args)
  quota = tonumber(args[1]) or quota
  marker = args[2]
  math.randomseed(os.time() * 7919 + (id or 0))
end

function request()
  sent = sent + 1
  -- Thread id and sequence number make every path distinct; the random part defeats any cache.
  local path = string.format("/load/%d/%08x%08x/%d",
    id or 0, math.random(0, 0x7fffffff), math.random(0, 0x7fffffff), sent)
  return wrk.format("GET", path)
end

function response(status, headers, body)
  received = received + 1
  if status ~= 404 then
    unexpected = unexpected + 1
  end
  if received == quota then
    if marker then
      local f = io.open(marker .. "." .. tostring(id), "w")
      if f then
        f:write(string.format("%d %d\n", received, unexpected))
        f:close()
      end
    end
    wrk.thread:stop()
  end
end
