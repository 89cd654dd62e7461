-- wrk script (bench/scenarios/proxy.ts): token-bucket EVALSHA through the REST proxy, as @upstash/redis posts it.
-- Env: TOKEN (bearer), SHA (of lua/token_bucket.lua, loaded beforehand), BATCH (commands per request:
-- 1 = POST /, more = POST /pipeline). One prebuilt request, so wrk's own CPU use stays low. The bucket
-- (capacity 1e9, refill 1e6/s) never denies, like redis-benchmark's command in the same scenario.
local token = os.getenv("TOKEN")
local sha = os.getenv("SHA")
local batch = tonumber(os.getenv("BATCH") or "1")

wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/json"

local command = '["EVALSHA","' .. sha .. '","1","bucket:bench","1","1000000000","1000000","1000"]'
if batch == 1 then
  wrk.path, wrk.body = "/", command
else
  local parts = {}
  for i = 1, batch do
    parts[i] = command
  end
  wrk.path, wrk.body = "/pipeline", "[" .. table.concat(parts, ",") .. "]"
end
