-- wrk script for bench/webhooks_e2e.sh: like webhooks.lua, with a pause of
-- $DELAY_MS after each answer so a few connections give a steady rate.
local reqs = {}
for line in io.lines(os.getenv("SIGNED")) do
  local tab = line:find("\t", 1, true)
  reqs[#reqs + 1] = wrk.format("POST", "/webhooks/livekit",
    { ["Content-Type"] = "application/webhook+json", ["Authorization"] = line:sub(1, tab - 1) },
    line:sub(tab + 1))
end
local n = 0
local pause = tonumber(os.getenv("DELAY_MS") or "20")
request = function()
  n = n + 1
  return reqs[((n - 1) % #reqs) + 1]
end
delay = function()
  return pause
end
done = function(summary, latency)
  io.write(string.format("acks: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
