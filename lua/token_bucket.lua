#!lua flags=allow-key-locking
-- Token bucket, several limits per call, all-or-nothing.
-- The shebang's flag lets Upstash lock only the keys in KEYS (not the whole database): every key this
-- script touches is in KEYS. Stock Redis 7.0 does not know the flag; see lua/shebang.ts.
--
-- KEYS[i]  one bucket per limit.
-- ARGV[1]  cost: whole tokens to take from every limit (0 = inspect only).
-- ARGV[2 + 3(i-1) ...] per limit: capacity, refill_tokens, refill_interval_ms (positive integers).
-- Optional, after the limits (a lease, then a merged take):
--   want    take up to `want` tokens (>= cost) from every limit when `cost` fits: the extra beyond `cost`
--           is at most a LEASE_SHARE-th of what each limit holds after `cost`, so a lease never empties a
--           bucket and a nearly empty one is decided token by token.
--   refund  tokens given back to every limit first (a lease's unspent tokens), clamped at capacity: the
--           bucket ends as if they had never been taken. Written even when the take is denied.
--   count   how many requests of `cost` this call decides (default 1): the first `granted` of them, in
--           order, get their tokens, as if each had been its own call. A lease's extra is taken only when
--           all `count` were granted.
--   now_ms  the caller's clock (Unix ms), used when the store's TIME is not (see `clock`).
--   clock   "store": Redis TIME, or the caller's `now_ms` when the store refuses TIME in a script;
--           "caller": always `now_ms`. The reply says which clock decided.
--
-- Exactness: tokens are stored scaled by refill_interval_ms ("units"), so refilling adds
-- elapsed_ms * refill_tokens units -- integer arithmetic only, no float drift over long periods.
-- Stored value: "<units> <timestamp_ms>". The stored stamp only moves forward, so callers whose clocks
-- disagree by `skew` ms over- or under-admit at most ceil(skew * rate) tokens (docs/architecture.md).
--
-- Reply (integers only; Lua numbers are truncated on the way out):
--   { allowed (1|0), now_ms, per limit: status, remaining, retry_after_ms, reset_ms, taken, granted, clock }
--   allowed: 1 when all `count` requests were granted
--   taken: tokens taken from every limit (granted * cost, plus a lease's extra; 0 when none granted)
--   granted: how many of the `count` requests got their tokens
--   clock: 0 = the store's TIME decided, 1 = the caller's now_ms
--   status, retry_after_ms: for the first request not granted (all 0 when every one was):
--   status: 0 = has the tokens, 1 = not enough tokens now, 2 = cost exceeds capacity (never fits)
--   retry_after_ms: until this limit holds `cost` tokens (0 when it does; -1 when it never can)
--   reset_ms: until this limit is full again (after this call's consumption)

local STATUS_OK, STATUS_EXHAUSTED, STATUS_TOO_COSTLY = 0, 1, 2
local LEASE_SHARE = 4

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
local plain = 1 + 3 * #KEYS
local tail = #ARGV - plain
if (tail ~= 0 and tail ~= 2 and tail ~= 3 and tail ~= 5) or #KEYS == 0 then
  return redis.error_reply("ERR token_bucket: expected 1 + 3 arguments per key (+ want, refund (+ count (+ now_ms, clock))), got " .. #ARGV .. " for " .. #KEYS .. " keys")
end
local want, refund, count = cost, 0, 1
if #ARGV >= plain + 2 then
  want = whole(ARGV[plain + 1], "want")
  if type(want) == "table" then return want end
  refund = whole(ARGV[plain + 2], "refund")
  if type(refund) == "table" then return refund end
  if want < cost then
    return redis.error_reply("ERR token_bucket: want must be >= cost")
  end
end
if tail >= 3 then
  count = whole(ARGV[plain + 3], "count")
  if type(count) == "table" then return count end
  if count < 1 then
    return redis.error_reply("ERR token_bucket: count must be >= 1")
  end
end

local caller_now, clock = nil, "store"
if tail == 5 then
  caller_now = whole(ARGV[plain + 4], "now_ms")
  if type(caller_now) == "table" then return caller_now end
  clock = ARGV[plain + 5]
  if clock ~= "store" and clock ~= "caller" then
    return redis.error_reply("ERR token_bucket: clock must be store or caller, got " .. tostring(clock))
  end
end
-- The store's clock is shared by every caller; a store that refuses TIME in a script (or a policy that
-- says so) leaves the caller's, for this call only.
local now
if clock == "store" then
  local ok, time = pcall(redis.call, "TIME")
  if ok and type(time) == "table" and time[2] then
    now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  elseif caller_now then
    clock = "caller"
  else
    return redis.error_reply("ERR token_bucket: the store refused TIME and no caller clock was sent")
  end
end
if clock == "caller" then now = caller_now end

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
  units = math.min(full, units + refund * interval)
  limits[i] = { units = units, stamp = stamp, full = full, rate = rate, interval = interval,
                capacity = capacity }
end

-- How many of the `count` requests fit in every limit, in order.
local granted = count
for _, l in ipairs(limits) do
  if cost > l.capacity then
    granted = 0
  elseif cost > 0 then
    granted = math.min(granted, math.floor(l.units / (cost * l.interval)))
  end
end
if granted < count then allowed = 0 end

-- Each limit's word on the first request left out, after the granted ones took their tokens.
for _, l in ipairs(limits) do
  local need, left = cost * l.interval, l.units - granted * cost * l.interval
  l.status, l.retry = STATUS_OK, 0
  if allowed == 0 then
    if cost > l.capacity then
      l.status, l.retry = STATUS_TOO_COSTLY, -1
    elseif left < need then
      l.status, l.retry = STATUS_EXHAUSTED, ceil_div(need - left, l.rate)
    end
  end
end

-- A lease: as many extra tokens as wanted and every limit can spare, once every request is served.
local taken = granted * cost
if allowed == 1 then
  local extra = want - cost
  for _, l in ipairs(limits) do
    local spare = math.floor((l.units - taken * l.interval) / l.interval / LEASE_SHARE)
    extra = math.min(extra, spare)
  end
  taken = taken + math.max(0, extra)
end

local reply = { allowed, now }
for i, l in ipairs(limits) do
  local units = l.units - taken * l.interval
  if taken > 0 or refund > 0 then
    if units >= l.full then
      -- Full again (a refund with nothing taken): a full bucket is no key at all.
      redis.call("DEL", KEYS[i])
    else
      -- TTL = time until full, so an idle bucket disappears exactly when it would read as full anyway.
      redis.call("SET", KEYS[i], string.format("%.0f %.0f", units, l.stamp), "PX", ceil_div(l.full - units, l.rate))
    end
  end
  local n = #reply
  reply[n + 1] = l.status
  reply[n + 2] = math.floor(units / l.interval)
  reply[n + 3] = l.retry
  reply[n + 4] = ceil_div(l.full - units, l.rate)
end
reply[#reply + 1] = taken
reply[#reply + 1] = granted
reply[#reply + 1] = clock == "store" and 0 or 1
return reply
