-- Floodgate: one client's state under one policy, decided atomically on the server.
-- KEYS[1]  the client's state, "<prefix><policy>:{<client>}" (one key: any hash slot, no cross-slot access)
-- ARGV[1]  operation: c check, i inspect, u unblock, b blacklist, w unblacklist, f block for ARGV[3] ms (a backoff)
-- ARGV[2]  test clock in ms, or "" for the server's TIME (only tests set it)
-- State:   one string value, struct-packed (FMT) so a check is one GET and one SET:
--          ws window start, c counter (starts at ACC - carry), bc block counted in this window, cy carry,
--          bu block end, p punished, x blacklisted, oc block count, qf quiet from, la last allowed (times in ms)
-- Reply:   check: {reason, remaining, retry ms (-1 never), reset ms (-1 never), event, block count, event ms};
--          an allowed check may stop after reset
--          event: 0 none, 1 blocked, 2 punished, 3 blacklisted. Reasons as Floodgate.DecisionReason.
local P, W, BD, REL, BL, BX, RESET, MW, ACC, CD, GR, ADAPT = @P, @W, @BD, @REL, @BL, @BX, @RESET, @MW, @ACC, @CD, @GR, @ADAPT
local KEEP = @KEEP
local key, op = KEYS[1], ARGV[1]
local now
if ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local FMT = '<diBidBBHdd'
local ws, c, bc, cy, bu, p, x, oc, qf, la = 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
local s = redis.call('GET', key)
if s then ws, c, bc, cy, bu, p, x, oc, qf, la = struct.unpack(FMT, s) end

if op == 'i' then
  return {now, ws, c, bc, cy, bu, p, x, oc, qf, la}
end

-- The common case first, before any closure is made: an allowed request inside a running window (no cooldown).
if op == 'c' and CD == 0 and x ~= 1 and bu <= now and bu <= ws and ws ~= 0 and now - ws < W and c < P + ACC then
  c = c + 1
  -- the TTL set when the window started still covers it
  redis.call('SET', key, struct.pack(FMT, ws, c, bc, cy, bu, p, x, oc, qf, la), 'KEEPTTL')
  return {0, P + ACC - c, 0, ws + W - now}
end

-- The block count that applies now: forgotten after a served punishment (BlockExceedReset) or MaxWindowDuration of quiet.
local function effective()
  if oc == 0 or x == 1 or bu > now then return oc end
  if RESET == 1 and p == 1 then return 0 end
  if MW >= 0 and now - math.max(qf, bu) >= MW then return 0 end
  return oc
end

local function blocklength(n)
  if ADAPT == 1 and n > 1 then
    local lengths = {@LENGTHS}
    return lengths[math.min(n, #lengths)]
  end
  return BD
end

-- Writes the state with a TTL that keeps exactly what a later decision depends on.
local function save()
  local keepFor = MW >= 0 and MW or KEEP
  local until_ = 0
  if ws ~= 0 then
    until_ = ws + W
    if ACC > 0 then until_ = math.max(until_, ws + keepFor) end
  end
  until_ = math.max(until_, bu)
  if oc > 0 then until_ = math.max(until_, math.max(qf, bu) + keepFor) end
  if CD > 0 and la > 0 then until_ = math.max(until_, la + CD) end
  if x == 1 then until_ = math.max(until_, now + KEEP) end
  redis.call('SET', key, struct.pack(FMT, ws, c, bc, cy, bu, p, x, oc, qf, la), 'PX', math.max(until_ - now, 1000))
end

if op == 'u' then
  if x == 1 or bu <= now then return {0, oc} end
  bu, ws, c, bc = now, 0, 0, 0
  save()
  return {1, oc}
elseif op == 'b' then
  if x == 1 then return {0, oc} end
  x = 1
  save()
  return {1, oc}
elseif op == 'f' then
  -- A backoff: blocked for at least ARGV[3] ms (a longer block stays); no block is counted.
  local length = tonumber(ARGV[3])
  if x == 1 or bu >= now + length then return {0, oc} end
  bu = now + length
  save()
  return {1, oc}
elseif op == 'w' then
  if x ~= 1 then return {0, oc} end
  -- The blacklisting counts as a punishment served now.
  x, p, bu, ws, c, bc = 0, 1, now, 0, 0, 0
  save()
  return {1, effective()}
end

-- Check. Order: blacklist, active block (a relative block restarts), cooldown, window roll, count, violation.
if x == 1 then return {5, 0, -1, -1, 0, 0, 0} end
if bu > now then
  if REL == 1 then
    local length = p == 1 and BX or blocklength(oc)
    if now + length > bu then
      bu = now + length
      save()
    end
  end
  return {4, 0, bu - now, bu - now, 0, 0, 0}
end

if CD > 0 and la ~= 0 and now - la < CD then
  local retry = la + CD - now
  local reset = retry
  if ws ~= 0 and now - ws < W then reset = ws + W - now end
  return {3, 0, retry, reset, 0, 0, 0}
end

-- A new window starts with this request when there is none, when it has run its length, or when a block that
-- began during it has since ended.
if ws == 0 or now - ws >= W or bu > ws then
  local carry = 0
  if ACC > 0 and ws ~= 0 and not (MW >= 0 and now - ws >= MW) then
    carry = math.min(math.max(P + ACC - c, 0), ACC)
  end
  local first = ACC - carry + 1
  ws, c, bc, cy = now, first, 0, carry
  if CD > 0 then la = now end
  save()
  return {0, P + ACC - first, 0, W, 0, 0, 0}
end

local windowEnd = ws + W
local allowance = P + ACC
if GR > 0 and c >= allowance and effective() == 0 then allowance = allowance + GR end
if c < allowance then
  local remaining = math.max(0, P + ACC - c - 1)
  c = c + 1
  if CD > 0 then
    la = now
    save()
  else
    -- the TTL set when the window started still covers it
    redis.call('SET', key, struct.pack(FMT, ws, c, bc, cy, bu, p, x, oc, qf, la), 'KEEPTTL')
  end
  return {0, remaining, 0, windowEnd - now, 0, 0, 0}
end

if bc == 1 then return {2, 0, windowEnd - now, windowEnd - now, 0, 0, 0} end

-- A violation: at most one block per window. The block count rises, and the client is blocked, punished or blacklisted.
local count = math.min(effective() + 1, 4095)
local punish = BL >= 0 and count > BL
local length = blocklength(count)
if punish then length = BX end
oc = count
if length < 0 then qf = now elseif length == 0 then qf = windowEnd else qf = now + length end
if length < 0 then
  x, p, bc = 1, 0, 1
  save()
  return {5, 0, -1, -1, 3, count, -1}
elseif length > 0 then
  bu = now + length
  p = punish and 1 or 0
  bc = 1
  save()
  if punish then return {4, 0, length, length, 2, count, length} end
  return {4, 0, length, length, 1, count, length}
end
bc = 1
save()
local left = math.max(0, windowEnd - now)
return {2, 0, left, left, 1, count, left}
