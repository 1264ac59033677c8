-- wrk script for bench/join.sh: POST /v1/join, spreading joins over the
-- codes listed (one per line) in the file named by $CODES.
local codes = {}
for line in io.lines(os.getenv("CODES")) do codes[#codes + 1] = line end
local n = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
  n = n + 1
  local code = codes[(n % #codes) + 1]
  local body = string.format('{"code":"%s","name":"Learner %d"}', code, n)
  return wrk.format(nil, "/v1/join", nil, body)
end

local statuses = {}
response = function(status)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency)
  io.write(string.format("p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
