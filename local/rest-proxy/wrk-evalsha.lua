-- wrk script for the proxy benchmark (docs/rest-proxy.md): token-bucket EVALSHA over the Upstash REST API.
-- Env: TOKEN (bearer), SHA (of lua/token_bucket.lua, loaded beforehand), BATCH (commands per request:
-- 1 = POST /, more = POST /pipeline), KEYS=random for one of 100000 random buckets per command (like
-- redis-benchmark -r 100000); otherwise every command uses the bucket "bucket:bench" and wrk sends one
-- prebuilt request, which keeps wrk's own CPU use low.
local token = os.getenv("TOKEN")
local sha = os.getenv("SHA")
local batch = tonumber(os.getenv("BATCH") or "1")
local random_keys = os.getenv("KEYS") == "random"

wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Upstash-Encoding"] = "base64"

local function command()
  local key = random_keys and ("bucket:" .. math.random(0, 99999)) or "bucket:bench"
  return '["EVALSHA","' .. sha .. '","1","' .. key .. '","1","1000000000","1000000","1000"]'
end

local function body()
  if batch == 1 then
    return "/", command()
  end
  local parts = {}
  for i = 1, batch do
    parts[i] = command()
  end
  return "/pipeline", "[" .. table.concat(parts, ",") .. "]"
end

if random_keys then
  request = function()
    local path, payload = body()
    return wrk.format(nil, path, nil, payload)
  end
else
  wrk.path, wrk.body = body()
end
