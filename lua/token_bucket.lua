-- Token bucket, several limits per call, all-or-nothing.
--
-- KEYS[i]  one bucket per limit.
-- ARGV[1]  cost: whole tokens to take from every limit (0 = inspect only).
-- ARGV[2 + 3(i-1) ...] per limit: capacity, refill_tokens, refill_interval_ms (positive integers).
--
-- Exactness: tokens are stored scaled by refill_interval_ms ("units"), so refilling adds
-- elapsed_ms * refill_tokens units -- integer arithmetic only, no float drift over long periods.
-- Stored value: "<units> <timestamp_ms>". The clock is Redis TIME, never the caller's.
--
-- Reply (integers only; Lua numbers are truncated on the way out):
--   { allowed (1|0), now_ms, per limit: status, remaining, retry_after_ms, reset_ms }
--   status: 0 = has the tokens, 1 = not enough tokens now, 2 = cost exceeds capacity (never fits)
--   retry_after_ms: until this limit holds `cost` tokens (0 when it does; -1 when it never can)
--   reset_ms: until this limit is full again (after this call's consumption)

local STATUS_OK, STATUS_EXHAUSTED, STATUS_TOO_COSTLY = 0, 1, 2

local function whole(value, name)
  local n = tonumber(value)
  if n == nil or n ~= math.floor(n) or n < 0 then
    return redis.error_reply("ERR token_bucket: " .. name .. " must be a non-negative integer, got " .. tostring(value))
  end
  return n
end

local function ceil_div(a, b)
  return math.floor((a + b - 1) / b)
end

local cost = whole(ARGV[1], "cost")
if type(cost) == "table" then return cost end
if #ARGV ~= 1 + 3 * #KEYS or #KEYS == 0 then
  return redis.error_reply("ERR token_bucket: expected 1 + 3 arguments per key, got " .. #ARGV .. " for " .. #KEYS .. " keys")
end

local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local limits = {}
local allowed = 1
for i = 1, #KEYS do
  local base = 2 + 3 * (i - 1)
  local capacity = whole(ARGV[base], "capacity")
  local rate = whole(ARGV[base + 1], "refill_tokens")
  local interval = whole(ARGV[base + 2], "refill_interval_ms")
  for _, v in ipairs({ capacity, rate, interval }) do
    if type(v) == "table" then return v end
  end
  if capacity < 1 or rate < 1 or interval < 1 then
    return redis.error_reply("ERR token_bucket: capacity, refill_tokens and refill_interval_ms must be >= 1")
  end

  local full = capacity * interval
  local units, stamp = full, now
  local stored = redis.call("GET", KEYS[i])
  if stored then
    local u, t = string.match(stored, "^(%d+) (%d+)$")
    if u then
      -- A clock that went backwards (failover to a replica) refills nothing instead of going negative.
      local elapsed = math.max(0, now - tonumber(t))
      units = math.min(full, tonumber(u) + elapsed * rate)
      stamp = math.max(now, tonumber(t))
    end
  end

  local need = cost * interval
  local status, retry = STATUS_OK, 0
  if cost > capacity then
    status, retry = STATUS_TOO_COSTLY, -1
  elseif units < need then
    status, retry = STATUS_EXHAUSTED, ceil_div(need - units, rate)
  end
  if status ~= STATUS_OK then allowed = 0 end
  limits[i] = { units = units, stamp = stamp, full = full, rate = rate, interval = interval,
                status = status, retry = retry }
end

local reply = { allowed, now }
for i, l in ipairs(limits) do
  local units = l.units
  if allowed == 1 and cost > 0 then
    units = units - cost * l.interval
    -- TTL = time until full, so an idle bucket disappears exactly when it would read as full anyway.
    redis.call("SET", KEYS[i], string.format("%.0f %.0f", units, l.stamp), "PX", ceil_div(l.full - units, l.rate))
  end
  local n = #reply
  reply[n + 1] = l.status
  reply[n + 2] = math.floor(units / l.interval)
  reply[n + 3] = l.retry
  reply[n + 4] = ceil_div(l.full - units, l.rate)
end
return reply
