-- wrk script (bench/wrk.ts): GET <url path> with a per-request client key in the X-Client header.
-- Env: CLIENTS = how many distinct keys (picked at random per request, default 1000),
-- CLIENT_PREFIX = text before the number (so runs never share buckets, default "c").
local clients = tonumber(os.getenv("CLIENTS") or "1000")
local prefix = os.getenv("CLIENT_PREFIX") or "c"

request = function()
  wrk.headers["X-Client"] = prefix .. math.random(1, clients)
  return wrk.format("GET", nil, nil, nil)
end
