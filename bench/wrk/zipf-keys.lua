-- wrk script (bench/wrk.ts): GET <url path> with a client key drawn from a Zipf distribution in X-Client.
-- Env: CLIENTS = how many distinct keys (default 10000), ZIPF_S = the exponent (default 1.0; key k is
-- drawn with weight 1/k^s, so key 1 is the hottest), CLIENT_PREFIX = text before the number.
local clients = tonumber(os.getenv("CLIENTS") or "10000")
local s = tonumber(os.getenv("ZIPF_S") or "1.0")
local prefix = os.getenv("CLIENT_PREFIX") or "z"

local cdf = {}
local total = 0
for k = 1, clients do
  total = total + 1 / (k ^ s)
  cdf[k] = total
end
for k = 1, clients do
  cdf[k] = cdf[k] / total
end

request = function()
  local u = math.random()
  local lo, hi = 1, clients
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then lo = mid + 1 else hi = mid end
  end
  wrk.headers["X-Client"] = prefix .. lo
  return wrk.format("GET", nil, nil, nil)
end
