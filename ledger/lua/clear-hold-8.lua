-- Clears (settles) an authorization: the cleared amount moves from the user's blocked funds to the
-- scheme settlement account (W:scheme) and from the deposit tranche's blocked funds to W:deposit.
-- Less than held: with ARGV[2] = '1' (final) the rest is released. More than held: the excess is
-- force-posted from available (which may go negative). ARGV[2] = '0' is a partial clearing: the
-- rest stays held for later clearings. The fees held with the transaction are posted to the
-- company tranche (or W:income) at the first clearing. A clearing of a transaction no longer
-- held (reversed, expired) force-posts its whole amount: the merchant is paid either way.
-- The deposit and company tranches are those named in the transaction, in this slot. The caller
-- reads their ids from the record and passes the tranches in KEYS (every key a script touches is
-- in KEYS, as Redis Cluster requires); the script checks them against the record.
-- KEYS[1] idempotency record  KEYS[2] transaction hash  KEYS[3] user balance hash
-- KEYS[4] journal stream  KEYS[5] expiry index (zset)  KEYS[6] world accounts hash
-- KEYS[7] the deposit tranche the transaction names (dp), or KEYS[2]
-- KEYS[8] the company tranche it names (kp), or KEYS[2]
-- ARGV[1] amount  ARGV[2] final 1|0  ARGV[3] nowMs  ARGV[4] idempotency TTL ms
-- ARGV[5] balanceId  ARGV[6] txId  ARGV[7] the deposit id behind KEYS[7] or ''
-- ARGV[8] the company id behind KEYS[8] or '' (when they are not those the transaction names,
--   STALE_KEYS: nothing is written or recorded, the caller reads them again and retries)
-- Returns {code, replay, status, clearedFromHold, forcedExcess, released, feesPosted, userAvailable}
--- @include common
local amount = tonumber(ARGV[1])
local final = ARGV[2] == '1'
local now = ARGV[3]
local ttl = ARGV[4]
local balance_id = ARGV[5]
local tx_id = ARGV[6]
local ref = balance_id .. '/' .. tx_id
local prior = replayed(KEYS[1], 'clear', ref)
if prior then return prior end

local t = redis.call('HMGET', KEYS[2], 's', 'h', 'fh', 'f', 'x', 'db', 'c', 'cur', 'dp', 'kp', 'ty', 'ix')
if not t[1] then return finish(KEYS[1], ttl, 'clear', ref, {C_TX_NOT_FOUND, 0, S_NONE, 0, 0, 0, 0, 0}) end
-- Only authorizations are cleared: a posted transaction (0200, internal type, credit) is final.
if t[11] then return finish(KEYS[1], ttl, 'clear', ref, {C_NOT_OPEN, 0, tonumber(t[1]), 0, 0, 0, 0, 0}) end
local status = tonumber(t[1])
local held = tonumber(t[2] or '0')
local fees_held = tonumber(t[3] or '0')
local fee = tonumber(t[4] or '0')
local fx = tonumber(t[5] or '0')
local dep_held = tonumber(t[6] or '0')
local cleared = tonumber(t[7] or '0')
local cur = t[8]
local dep_id = t[9] or ''
local company_id = t[10] or ''
if dep_id ~= ARGV[7] or company_id ~= ARGV[8] then return {C_STALE_KEYS, 0, S_NONE, 0, 0, 0, 0, 0} end
local k_dep = ''
if dep_id ~= '' then k_dep = KEYS[7] end
local k_company = ''
if company_id ~= '' then k_company = KEYS[8] end
if redis.call('EXISTS', KEYS[3]) == 0 then
  return finish(KEYS[1], ttl, 'clear', ref, {C_BALANCE_NOT_FOUND, 0, status, 0, 0, 0, 0, 0})
end

-- Writes.
-- The group's tag names the partner tranches' journal accounts.
local group = string.sub(KEYS[2], 2, string.find(KEYS[2], '}', 1, true) - 1)
local uacct = 'U:' .. balance_id
local p = {}
local from_held = math.min(amount, held)
local excess = amount - from_held
local rest = 0
if final then rest = held - from_held end
local fee_post = fees_held
local ub_delta = -(from_held + rest + fee_post)
local ua_delta = rest - excess
posting(p, uacct .. ':b', 'W:scheme', from_held, 'CLEAR')
posting(p, uacct .. ':a', 'W:scheme', excess, 'FORCE')
posting(p, uacct .. ':b', uacct .. ':a', rest, 'RELEASE')
redis.call('HINCRBY', KEYS[6], cur .. ':W:scheme', d(amount))
if fee_post > 0 then
  -- Fees held count fee then FX fee; both go to the company balance in one move.
  local fee_part = math.min(fee, fee_post)
  local kacct = 'W:income'
  if k_company ~= '' then kacct = 'P:' .. company_id .. ':' .. group .. ':a' end
  posting(p, uacct .. ':b', kacct, fee_part, 'FEE')
  posting(p, uacct .. ':b', kacct, fee_post - fee_part, 'FX')
  if k_company ~= '' then
    redis.call('HINCRBY', k_company, 'a', d(fee_post))
  else
    redis.call('HINCRBY', KEYS[6], cur .. ':W:income', d(fee_post))
  end
end
local ua = redis.call('HINCRBY', KEYS[3], 'a', d(ua_delta))
redis.call('HINCRBY', KEYS[3], 'b', d(ub_delta))
if ua < 0 then redis.call('HSET', KEYS[3], 'neg', '1') end
local d_from, d_rest = 0, 0
if k_dep ~= '' then
  local dacct = 'P:' .. dep_id .. ':' .. group
  d_from = math.min(amount, dep_held)
  local d_excess = amount - d_from
  if final then d_rest = dep_held - d_from end
  posting(p, dacct .. ':b', 'W:deposit', d_from, 'CLEAR')
  posting(p, dacct .. ':a', 'W:deposit', d_excess, 'FORCE')
  posting(p, dacct .. ':b', dacct .. ':a', d_rest, 'RELEASE')
  redis.call('HINCRBY', k_dep, 'a', d(d_rest - d_excess))
  redis.call('HINCRBY', k_dep, 'b', d(-(d_from + d_rest)))
  redis.call('HINCRBY', KEYS[6], cur .. ':W:deposit', d(amount))
end
if final or status ~= S_AUTHORIZED then
  status = S_CLEARED
  redis.call('ZREM', KEYS[5], balance_id .. '|' .. tx_id)
end
redis.call('HSET', KEYS[2], 's', status, 'h', d(held - from_held - rest), 'fh', '0',
  'db', d(dep_held - d_from - d_rest), 'c', d(cleared + amount))
-- Fees posted (fp): what a full reversal of the cleared transaction gives back.
if fee_post > 0 then redis.call('HINCRBY', KEYS[2], 'fp', d(fee_post)) end
journal(KEYS[4], 'clear', balance_id, tx_id, cur, now, p, status, nil, t[12])
return finish(KEYS[1], ttl, 'clear', ref, {C_OK, 0, status, from_held, excess, rest, fee_post, ua})
