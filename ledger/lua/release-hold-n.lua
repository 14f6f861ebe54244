-- Releases an authorization hold: a full reversal (mode R), a partial reversal to a new final
-- amount (mode N), or the expiry of a hold past its due time (mode E, used by the sweeper).
-- Only open holds: reverse-transaction-10 reverses any transaction (posted money included) and is
-- what the switch's reversals use; this script stays for the expiry sweeper and release().
-- Every mode gives back the velocity usage the hold counted (its `vu`, includes/counters.lua): what
-- it releases, and on a full release (expiry included) everything and the 1 transaction, so that a
-- hold that never became a purchase does not stay counted in a week, month or lifetime counter.
-- (Daily usage counted before the counters existed, `uk`, is given back by reverse-transaction-n only.)
-- An incremental authorization is not a hold of its own: TRANSACTION_NOT_OPEN (reverse it).
-- A transaction is reversed at most once: a second reversal moves nothing (ALREADY_REVERSED).
-- With ARGV[8] = '1', a reversal of an unknown transaction leaves a REVERSED record without money
-- (type ORPHAN_REVERSAL) so that the original, if it arrives later, is refused by the hold script.
-- Expiry checks the status and the due time inside the script, so several sweepers racing on
-- one entry release it once.
-- The deposit tranche released is the one named in the transaction, in this slot: the caller
-- reads its id from the record and passes the tranche in KEYS (every key a script touches is in
-- KEYS, as Redis Cluster requires); the script checks it against the record.
-- KEYS[1] idempotency record (ignored when ARGV[7] = '0')  KEYS[2] transaction hash
-- KEYS[3] user balance hash  KEYS[4] journal stream  KEYS[5] expiry index (zset)
-- KEYS[6] the deposit tranche the transaction names (dp), or KEYS[2]
-- KEYS[7..] the usage hashes the transaction's `vu` names
-- ARGV[1] mode R|N|E  ARGV[2] new final amount (mode N)  ARGV[3] nowMs  ARGV[4] idempotency TTL ms
-- ARGV[5] balanceId  ARGV[6] txId  ARGV[7] use idempotency record 1|0
-- ARGV[8] remember a reversal of an unknown transaction 1|0
-- ARGV[9] the deposit id behind KEYS[6] or '' (when it is not the one the transaction names, or
--   the transaction names usage hashes not passed, STALE_KEYS: nothing is written or recorded, the
--   caller reads them again and retries)
-- Returns {code, replay, status, userReleased, depositReleased, userAvailable, userBlocked, amount}
--- @include common
--- @include counters
--- @include release-body
local mode = ARGV[1]
local now = ARGV[3]
local ttl = ARGV[4]
local balance_id = ARGV[5]
local tx_id = ARGV[6]
local k_idem = ''
if ARGV[7] == '1' then k_idem = KEYS[1] end
local op = 'release' .. mode
local ref = balance_id .. '/' .. tx_id
if k_idem ~= '' then
  local prior = replayed(k_idem, op, ref)
  if prior then return prior end
end

local t = redis.call('HMGET', KEYS[2], 's', 'a', 'h', 'fh', 'db', 'c', 'cur', 'dp', 'r', 'e', 'ty', 'vu', 'ix')
if not t[1] then
  -- A reversal whose original is unknown is remembered on request (SPEC 2.3): an authorization
  -- arriving later under this txId finds the record and holds nothing.
  if mode ~= 'E' and ARGV[8] == '1' then
    local cur = redis.call('HGET', KEYS[3], 'cur')
    if cur then
      redis.call('HSET', KEYS[2], 's', S_REVERSED, 'a', '0', 'r', '1', 'cur', cur, 't', now, 'ty', 'ORPHAN_REVERSAL')
      journal_state(KEYS[4], op, balance_id, tx_id, cur, S_REVERSED)
    end
  end
  return finish(k_idem, ttl, op, ref, {C_TX_NOT_FOUND, 0, S_NONE, 0, 0, 0, 0, 0})
end
local status = tonumber(t[1])
local amount = tonumber(t[2])
local held = tonumber(t[3] or '0')
local fees_held = tonumber(t[4] or '0')
local dep_held = tonumber(t[5] or '0')
local cleared = tonumber(t[6] or '0')
local cur = t[7]
local dep_id = t[8] or ''
if dep_id ~= ARGV[9] then return {C_STALE_KEYS, 0, S_NONE, 0, 0, 0, 0, 0} end
local lines = usage_lines(t[12])
if not usage_keys_passed(lines, key_set(KEYS, 7)) then return {C_STALE_KEYS, 0, S_NONE, 0, 0, 0, 0, 0} end
local k_dep = ''
if dep_id ~= '' then k_dep = KEYS[6] end

if mode == 'E' then
  if status ~= S_AUTHORIZED then
    redis.call('ZREM', KEYS[5], balance_id .. '|' .. tx_id)
    return {C_NOT_OPEN, 0, status, 0, 0, 0, 0, amount}
  end
  if tonumber(t[10]) > tonumber(now) then return {C_NOT_DUE, 0, status, 0, 0, 0, 0, amount} end
elseif t[11] == 'INCREMENT' then
  return finish(k_idem, ttl, op, ref, {C_NOT_OPEN, 0, status, 0, 0, 0, 0, amount})
elseif t[9] == '1' or status == S_REVERSED or status == S_EXPIRED then
  return finish(k_idem, ttl, op, ref, {C_ALREADY_REVERSED, 0, status, 0, 0, 0, 0, amount})
elseif status ~= S_AUTHORIZED then
  return finish(k_idem, ttl, op, ref, {C_NOT_OPEN, 0, status, 0, 0, 0, 0, amount})
end

local new_amount = 0
if mode == 'N' then
  new_amount = tonumber(ARGV[2])
  if new_amount > amount then
    return finish(k_idem, ttl, op, ref, {C_INVALID_AMOUNT, 0, status, 0, 0, 0, 0, amount})
  end
end

-- Writes.
local full = mode ~= 'N' or new_amount == 0
if full then
  if cleared > 0 then status = S_CLEARED elseif mode == 'E' then status = S_EXPIRED else status = S_REVERSED end
end
local code = 'RELEASE'
if mode == 'E' then code = 'EXPIRE' end
local dacct = 'P:' .. dep_id .. ':' .. string.sub(KEYS[2], 2, string.find(KEYS[2], '}', 1, true) - 1)
local p = {}
local u_rel, d_rel, ua, ub
u_rel, d_rel, ua, ub, amount = release_hold(KEYS[2], KEYS[3], KEYS[5], balance_id .. '|' .. tx_id, k_dep, dacct, 'U:' .. balance_id,
  {amount = amount, held = held, fees_held = fees_held, dep_held = dep_held}, full, new_amount, status, code, mode ~= 'E', p)
if #lines > 0 then
  -- A hold partly cleared was a purchase: only what is released now goes back, not the transaction.
  if full and cleared == 0 then
    give_back(lines, nil, nil, true)
  elseif full then
    give_back(lines, held, nil, false)
  else
    give_back(lines, math.min(tonumber(t[2]) - new_amount, held), nil, false)
  end
  redis.call('HSET', KEYS[2], 'vu', usage_text(lines))
end
local reversed = 0
if mode ~= 'E' then reversed = tonumber(redis.call('HGET', KEYS[2], 'rv') or '0') end
journal(KEYS[4], op, balance_id, tx_id, cur, now, p, status, reversed, t[13])
return finish(k_idem, ttl, op, ref, {C_OK, 0, status, u_rel, d_rel, ua, ub, amount})
