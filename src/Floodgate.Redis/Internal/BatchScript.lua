-- Floodgate: a batched exchange (FloodgateRedisOptions.SyncMode = Batched). Adds what one instance admitted on its
-- own to each client's shared state, and returns the state every instance's local count is then set from.
-- KEYS     the clients' states (PolicyScript.lua's keys), all in one cluster slot, then the batch's receipt key (same slot)
-- ARGV[1]  test clock in ms, or "" for the server's TIME (only tests set it)
-- ARGV[2]  the batch's id: a batch whose answer was lost is sent again as it was, and counted once
-- ARGV[3..] the permits each client was admitted since the last exchange, in KEYS' order
-- Reply:   three numbers per key, flat: windows {window age ms, count, previous count}; token bucket {0, debt in 1/P ms, 0}.
--          The count is in permits above the window's carry-over (what a local count compares with P).
-- Permits are added whatever the limit: they were admitted already. A violation is for an exact check to find.
local P, W, MW, ACC = @P, @W, @MW, @ACC
local KEEP = @KEEP
local ALG = @ALG
local now
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local FMT = '<diBidBBHdd'
local function divmod(a, b)
  local q = math.floor(a / b)
  local r = a - q * b
  if r < 0 then q, r = q - 1, r + b elseif r >= b then q, r = q + 1, r - b end
  return q, r
end

local receipt = KEYS[#KEYS]
local again = redis.call('GET', receipt) == ARGV[2]
redis.call('SET', receipt, ARGV[2], 'PX', 600000)

local reply = {}
for i = 1, #KEYS - 1 do
  local key = KEYS[i]
  local n = tonumber(ARGV[i + 2])
  if again then n = 0 end
  local ws, c, bc, cy, bu, p, x, oc, qf, la = 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
  local s = redis.call('GET', key)
  if s then ws, c, bc, cy, bu, p, x, oc, qf, la = struct.unpack(FMT, s) end
  local a, b, d = 0, 0, 0
  if ALG == 2 then
    local excess = 0
    if ws ~= 0 then excess = math.max(0, (ws - now) * P + c) end
    excess = excess + n * W
    local whole, fraction = divmod(excess, P)
    ws, c = now + whole, fraction
    b = excess
  elseif ALG == 1 then
    if ws == 0 or now - ws >= W or bu > ws then
      if ws ~= 0 and bu <= ws and now - ws >= W then
        local k = divmod(now - ws, W)
        if k == 1 then cy = c else cy = 0 end
        ws = ws + k * W
      else
        ws, cy = now, 0
      end
      c, bc = 0, 0
    end
    c = c + n
    a, b, d = now - ws, c, cy
  else
    if ws == 0 or now - ws >= W or bu > ws then
      local carry = 0
      if ACC > 0 and ws ~= 0 and not (MW >= 0 and now - ws >= MW) then
        carry = math.min(math.max(P + ACC - c, 0), ACC)
      end
      ws, c, bc, cy = now, ACC - carry, 0, carry
    end
    c = c + n
    a, b = now - ws, math.max(0, c - ACC)
  end
  -- The TTL keeps what a later decision depends on (PolicyScript.lua's save()).
  local keepFor = MW >= 0 and MW or KEEP
  local until_ = 0
  if ALG == 2 then until_ = ws + 1 elseif ALG == 1 then until_ = ws + 2 * W else until_ = ws + W end
  if ACC > 0 then until_ = math.max(until_, ws + keepFor) end
  until_ = math.max(until_, bu)
  if oc > 0 then until_ = math.max(until_, math.max(qf, bu) + keepFor) end
  if x == 1 then until_ = math.max(until_, now + KEEP) end
  redis.call('SET', key, struct.pack(FMT, ws, c, bc, cy, bu, p, x, oc, qf, la), 'PX', math.max(until_ - now, 1000))
  reply[#reply + 1] = a
  reply[#reply + 1] = b
  reply[#reply + 1] = d
end
return reply
