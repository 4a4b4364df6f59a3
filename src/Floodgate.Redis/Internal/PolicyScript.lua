-- Floodgate: one client's state under one policy, decided atomically on the server.
-- KEYS[1]  the client's state, "<prefix><policy>:{<client>}" (one key: any hash slot, no cross-slot access)
--          a: the clients' states, all in one cluster slot, then the batch's receipt key (the same slot)
-- ARGV[1]  operation: c check, i inspect, u unblock, b blacklist, w unblacklist, f block for ARGV[3] ms (a backoff),
--          a add a batch (SyncMode Batched: what one instance admitted on its own since its last exchange)
-- ARGV[2]  test clock in ms, or "" for the server's TIME (only tests set it)
-- ARGV[3]  c: the request's cost in permits (absent: 1), all or none; f: the backoff in ms; a: the batch's id
-- ARGV[4..] a: the permits admitted for each client, in KEYS' order
-- State:   one string value, struct-packed (FMT) so a check is one GET and one SET:
--          ws window start, c counter (starts at ACC - carry), bc block counted in this window, cy carry,
--          bu block end, p punished, x blacklisted, oc block count, qf quiet from, la last allowed (times in ms)
--          The shapes (ALG) read the first four fields their own way (Floodgate.Internal.ShapeMath, the same steps):
--          ALG 0 fixed window: as above.
--          ALG 1 sliding window: ws window start on the client's grid, c its count, bc block counted in it,
--                cy the previous (adjacent) window's count.
--          ALG 2 token bucket (GCRA): ws the theoretical arrival time in whole ms, c its fraction in 1/P ms,
--                bc a violation counted since the bucket was last full; cy unused.
-- Reply:   check: {reason, remaining, retry ms (-1 never), reset ms (-1 never), event, block count, event ms};
--          an allowed check may stop after reset
--          a: three numbers per client, flat: windows {window age ms, count above the carry-over, previous count};
--          token bucket {0, debt in 1/P ms, 0}: what each instance's local count is set from
--          event: 0 none, 1 blocked, 2 punished, 3 blacklisted. Reasons as Floodgate.DecisionReason.
local P, W, BD, REL, BL, BX, RESET, MW, ACC, CD, GR, ADAPT = @P, @W, @BD, @REL, @BL, @BX, @RESET, @MW, @ACC, @CD, @GR, @ADAPT
local KEEP = @KEEP
local ALG, BURST = @ALG, @BURST
local key, op = KEYS[1], ARGV[1]
local COST = 1
if op == 'c' and ARGV[3] then COST = tonumber(ARGV[3]) end
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
if op == 'c' and ALG == 0 and CD == 0 and x ~= 1 and bu <= now and bu <= ws and ws ~= 0 and now - ws < W and c + COST <= P + ACC then
  c = c + COST
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

-- Exact integer division for values below 2^53 (a double's a / b may round across an integer).
local function divmod(a, b)
  local q = math.floor(a / b)
  local r = a - q * b
  if r < 0 then q, r = q - 1, r + b elseif r >= b then q, r = q + 1, r - b end
  return q, r
end

local function ceildiv(a, b)
  if a <= 0 then return 0 end
  local q, r = divmod(a, b)
  if r > 0 then q = q + 1 end
  return q
end

-- Writes the state with a TTL that keeps exactly what a later decision depends on.
local function save()
  local keepFor = MW >= 0 and MW or KEEP
  local until_ = 0
  if ws ~= 0 then
    if ALG == 2 then until_ = ws + 1 elseif ALG == 1 then until_ = ws + 2 * W else until_ = ws + W end
    if ACC > 0 then until_ = math.max(until_, ws + keepFor) end
  end
  until_ = math.max(until_, bu)
  if oc > 0 then until_ = math.max(until_, math.max(qf, bu) + keepFor) end
  if CD > 0 and la > 0 then until_ = math.max(until_, la + CD) end
  if x == 1 then until_ = math.max(until_, now + KEEP) end
  redis.call('SET', key, struct.pack(FMT, ws, c, bc, cy, bu, p, x, oc, qf, la), 'PX', math.max(until_ - now, 1000))
end

-- Sliding window: the window that holds now, on the client's grid; the count just ended becomes the previous one when
-- adjacent. After a block that began during the window, or with no window, a window starting now. True when it rolled.
local function rollSliding()
  if not (ws == 0 or now - ws >= W or bu > ws) then return false end
  if ws ~= 0 and bu <= ws and now - ws >= W then
    local k = divmod(now - ws, W)
    if k == 1 then cy = c else cy = 0 end
    ws = ws + k * W
  else
    ws, cy = now, 0
  end
  c, bc = 0, 0
  return true
end

-- Fixed window: a new window starts when there is none, when it has run its length, or when a block that began
-- during it has since ended.
local function fixedEnded() return ws == 0 or now - ws >= W or bu > ws end

-- Fixed window: a new window now, with the unused permits carried over and the first request's cost counted.
local function startFixed(cost)
  local carry = 0
  if ACC > 0 and ws ~= 0 and not (MW >= 0 and now - ws >= MW) then
    carry = math.min(math.max(P + ACC - c, 0), ACC)
  end
  ws, c, bc, cy = now, ACC - carry + cost, 0, carry
end

if op == 'a' then
  -- A batch: permits admitted already, added whatever the limit (a violation is for an exact check to find). A batch
  -- whose answer was lost is sent again as it was: the receipt holds the last batch's id, so it counts once.
  local receipt = KEYS[#KEYS]
  local again = redis.call('GET', receipt) == ARGV[3]
  redis.call('SET', receipt, ARGV[3], 'PX', 600000)
  local reply = {}
  for i = 1, #KEYS - 1 do
    key = KEYS[i]
    local n = tonumber(ARGV[i + 3])
    if again then n = 0 end
    ws, c, bc, cy, bu, p, x, oc, qf, la = 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    s = redis.call('GET', key)
    if s then ws, c, bc, cy, bu, p, x, oc, qf, la = struct.unpack(FMT, s) end
    local age, count, previous = 0, 0, 0
    if ALG == 2 then
      local excess = 0
      if ws ~= 0 then excess = math.max(0, (ws - now) * P + c) end
      count = excess + n * W
      local whole, fraction = divmod(count, P)
      ws, c = now + whole, fraction
    elseif ALG == 1 then
      rollSliding()
      c = c + n
      age, count, previous = now - ws, c, cy
    else
      if fixedEnded() then startFixed(n) else c = c + n end
      age, count = now - ws, math.max(0, c - ACC)
    end
    save()
    reply[#reply + 1] = age
    reply[#reply + 1] = count
    reply[#reply + 1] = previous
  end
  return reply
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
  if ALG == 2 then
    if ws ~= 0 then reset = math.max(retry, ceildiv(math.max(0, (ws - now) * P + c), P)) end
  elseif ALG == 1 then
    if ws ~= 0 and now - ws < 2 * W then reset = math.max(retry, 2 * W - (now - ws)) end
  elseif ws ~= 0 and now - ws < W then
    reset = ws + W - now
  end
  return {3, 0, retry, reset, 0, 0, 0}
end

-- A violation: at most one per window (per episode on the token bucket). The block count rises, and the client is
-- blocked, punished or blacklisted; with no block it is refused until retryAt and offends until quietAt.
local function violation(quietAt, retryAt, resetAt)
  local count = math.min(effective() + 1, 4095)
  local punish = BL >= 0 and count > BL
  local length = blocklength(count)
  if punish then length = BX end
  oc = count
  if length < 0 then qf = now elseif length == 0 then qf = quietAt else qf = now + length end
  bc = 1
  -- A block or blacklisting replaces a token bucket's debt: the client comes back with a full bucket.
  if length ~= 0 and ALG == 2 then ws, c = 0, 0 end
  if length < 0 then
    x, p = 1, 0
    save()
    return {5, 0, -1, -1, 3, count, -1}
  elseif length > 0 then
    bu = now + length
    p = punish and 1 or 0
    save()
    if punish then return {4, 0, length, length, 2, count, length} end
    return {4, 0, length, length, 1, count, length}
  end
  save()
  local retry = math.max(1, retryAt - now)
  return {2, 0, retry, math.max(retry, resetAt - now), 1, count, retry}
end

if ALG == 2 then
  -- Token bucket (GCRA), in units of 1/P ms: one permit is W units.
  local excess = 0
  if ws ~= 0 then excess = math.max(0, (ws - now) * P + c) end
  local nextx = excess + COST * W
  local capacity = BURST
  if GR > 0 and nextx > capacity and effective() == 0 then capacity = capacity + GR * W end
  if nextx <= capacity then
    if excess == 0 then bc = 0 end   -- a full bucket ends the episode
    local whole, fraction = divmod(nextx, P)
    ws, c = now + whole, fraction
    if CD > 0 then la = now end
    save()
    local remaining = 0
    if nextx < BURST then remaining = divmod(BURST - nextx, W) end
    return {0, remaining, 0, ceildiv(nextx, P), 0, 0, 0}
  end
  local retry = math.max(1, ceildiv(excess + COST * W - capacity, P))
  local reset = math.max(retry, ceildiv(excess, P))
  if bc == 1 then return {2, 0, retry, reset, 0, 0, 0} end
  return violation(now + retry, now + retry, now + reset)
end

if ALG == 1 then
  -- Sliding window: this window's count plus the previous one's, weighted by the part still inside the interval.
  local rolled = rollSliding()
  local e = math.max(0, now - ws)
  local weighted = 0
  if e < W then weighted = cy * (W - e) end
  -- A request of COST permits fits when its last permit does: the first COST - 1 count as taken.
  local allowance = P
  if GR > 0 and (c + COST - 1) * W + weighted >= allowance * W and effective() == 0 then allowance = allowance + GR end
  if (c + COST - 1) * W + weighted < allowance * W then
    c = c + COST
    if CD > 0 then la = now end
    if rolled or CD > 0 then
      save()
    else
      -- the TTL set when the window rolled still covers it
      redis.call('SET', key, struct.pack(FMT, ws, c, bc, cy, bu, p, x, oc, qf, la), 'KEEPTTL')
    end
    local left = P * W - c * W - weighted
    local remaining = 0
    if left > 0 then remaining = ceildiv(left, W) end
    return {0, remaining, 0, 2 * W - e, 0, 0, 0}
  end
  -- The next permit: the previous window's weight falls every ms; past this window's end, its count becomes the previous one.
  local fits = allowance - COST + 1   -- the allowance for the request's first permit
  local retry = -1
  if c < fits and cy > 0 then
    local at = W - ceildiv((fits - c) * W, cy) + 1
    if at < W then retry = math.max(1, at - e) end
  end
  if retry < 0 then
    retry = W - e
    if c >= fits then retry = retry + math.max(0, W - ceildiv(fits * W, c) + 1) end
    retry = math.max(1, retry)
  end
  local reset = 0
  if c > 0 then reset = 2 * W - e elseif cy > 0 then reset = W - e end
  reset = math.max(retry, reset)
  if bc == 1 then return {2, 0, retry, reset, 0, 0, 0} end
  return violation(ws + W, now + retry, now + reset)
end

-- A new window starts with this request (see fixedEnded).
if fixedEnded() then
  startFixed(COST)
  if CD > 0 then la = now end
  save()
  return {0, P + ACC - c, 0, W, 0, 0, 0}
end

local windowEnd = ws + W
local allowance = P + ACC
if GR > 0 and c + COST > allowance and effective() == 0 then allowance = allowance + GR end
if c + COST <= allowance then
  local remaining = math.max(0, P + ACC - c - COST)
  c = c + COST
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
return violation(windowEnd, windowEnd, windowEnd)
