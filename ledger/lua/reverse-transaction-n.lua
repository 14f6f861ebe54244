-- Reverses a transaction of a user balance, in full or down to a new final amount (field 95),
-- whatever state its money is in (SPEC 2.3):
--   open hold (AUTHORIZED): released as release-hold-6 releases it (effect 1, RELEASED);
--   posted debit (type POST: 0200, forced post) or cleared authorization (CLEARED): the money
--     posted is credited back to the user from W:scheme and the deposit it consumed is given back
--     to the deposit tranche from W:deposit (effect 2, CREDITED_BACK). A full reversal also gives
--     back the fees posted with it (from the company tranche, or W:income); a partial one gives
--     back only the principal difference. Base of a cleared authorization: what was cleared (c);
--   posted card credit (REFUND, PAYMENT_CREDIT): debited back as a forced post (available may go
--     below zero) and the deposit credited back with it is debited back (effect 3, DEBITED_BACK).
-- A transaction is reversed at most once: once marked (r = 1), a later call moves nothing and
-- answers ALREADY_REVERSED, as for a transaction already REVERSED or EXPIRED. The record gets
-- r = 1, rk = R|C|D (how), rv = the principal given back; a full reversal of posted money sets
-- REVERSED, a partial one keeps CLEARED and sets the amount to the new final amount.
-- The velocity usage the original counted (its `vu`, includes/counters.lua) is given back on the
-- usage hashes it names, passed from KEYS[10] on: the amount given back (at most what was counted,
-- the increments' countings first), and on a full reversal everything and the 1 transaction.
-- Usage hashes gone (their period long over) are not recreated. A transaction counted before the
-- counters existed names one daily usage hash (`uk`, fields amt, cnt, atm), passed as KEYS[9].
-- An incremental authorization (type INCREMENT) is reversed by reverse-increment-n: here it is
-- STALE_KEYS (the caller read the record before it existed, and reads again).
-- An unknown transaction moves nothing (TRANSACTION_NOT_FOUND); with ARGV[6] = '1' a REVERSED
-- record of type ORPHAN_REVERSAL is left so that the original, arriving later, holds nothing.
-- Internal types (TOPUP & co) are not reversed here: TRANSACTION_NOT_OPEN.
-- A reversal that would take the user balance (available + blocked) or the deposit tranche past
-- the maximum amount is refused with AMOUNT_TOO_LARGE before any write.
-- KEYS[1] idempotency record  KEYS[2] transaction hash  KEYS[3] user balance hash
-- KEYS[4] journal stream  KEYS[5] expiry index (zset)  KEYS[6] world accounts hash
-- KEYS[7] the deposit tranche the transaction names (dp, or pp of a card credit), or KEYS[2]
-- KEYS[8] the company tranche it names (kp), or KEYS[2]
-- KEYS[9] the daily usage hash the transaction names as `uk` (or KEYS[2])
-- KEYS[10..] the usage hashes its `vu` names
-- ARGV[1] new final amount, '' = full  ARGV[2] nowMs  ARGV[3] idempotency TTL ms
-- ARGV[4] balanceId  ARGV[5] txId  ARGV[6] remember a reversal of an unknown transaction 1|0
-- ARGV[7] the deposit id behind KEYS[7] or ''  ARGV[8] the company id behind KEYS[8] or ''
--   (when they are not those the transaction names, or it names usage hashes not passed,
--   STALE_KEYS: nothing is written or recorded, the caller reads them again and retries)
-- Returns {code, replay, status, effect (0 none, 1 released, 2 credited back, 3 debited back),
--   userMoved (fees included), userAvailable, userBlocked, amount after}
--- @include common
--- @include counters
--- @include release-body
local now = ARGV[2]
local ttl = ARGV[3]
local balance_id = ARGV[4]
local tx_id = ARGV[5]
local op = 'reverse'
local ref = balance_id .. '/' .. tx_id
local prior = replayed(KEYS[1], op, ref)
if prior then return prior end

local u = redis.call('HMGET', KEYS[3], 'a', 'b', 'cur')
if not u[1] then return finish(KEYS[1], ttl, op, ref, {C_BALANCE_NOT_FOUND, 0, S_NONE, E_NONE, 0, 0, 0, 0}) end
local ua = tonumber(u[1])
local ub = tonumber(u[2])
local t = redis.call('HMGET', KEYS[2], 's', 'a', 'h', 'fh', 'db', 'c', 'cur', 'dp', 'pp', 'kp', 'r', 'ty', 'f', 'x', 'fp', 'uk', 'um', 'uq', 'vu', 'ix')
if not t[1] then
  if ARGV[6] == '1' then
    redis.call('HSET', KEYS[2], 's', S_REVERSED, 'a', '0', 'r', '1', 'cur', u[3], 't', now, 'ty', 'ORPHAN_REVERSAL')
    journal_state(KEYS[4], op, balance_id, tx_id, u[3], S_REVERSED)
  end
  return finish(KEYS[1], ttl, op, ref, {C_TX_NOT_FOUND, 0, S_NONE, E_NONE, 0, ua, ub, 0})
end
local dep_id = t[8] or t[9] or ''
local company_id = t[10] or ''
if dep_id ~= ARGV[7] or company_id ~= ARGV[8] or t[12] == 'INCREMENT' or (t[16] and t[16] ~= KEYS[9]) then
  return {C_STALE_KEYS, 0, S_NONE, E_NONE, 0, ua, ub, 0}
end
local lines = usage_lines(t[19])
if not usage_keys_passed(lines, key_set(KEYS, 10)) then return {C_STALE_KEYS, 0, S_NONE, E_NONE, 0, ua, ub, 0} end

local status = tonumber(t[1])
local amount = tonumber(t[2])
local ty = t[12]
local function answer(code) return finish(KEYS[1], ttl, op, ref, {code, 0, status, E_NONE, 0, ua, ub, amount}) end
if ty == 'ORPHAN_REVERSAL' or t[11] == '1' or status == S_REVERSED or status == S_EXPIRED then return answer(C_ALREADY_REVERSED) end
local effect
if not ty and status == S_AUTHORIZED then effect = E_RELEASED
elseif (not ty and status == S_CLEARED) or ty == 'POST' then effect = E_CREDITED_BACK
elseif ty == 'REFUND' or ty == 'PAYMENT_CREDIT' then effect = E_DEBITED_BACK
else return answer(C_NOT_OPEN) end

-- The base a new final amount is measured against: the authorized amount of an open hold, the
-- money posted (cleared) otherwise.
local base = amount
if effect ~= E_RELEASED then base = tonumber(t[6] or '0') end
local new_amount = tonumber(ARGV[1])
if new_amount and new_amount > base then return answer(C_INVALID_AMOUNT) end
local full = new_amount == nil or new_amount == 0
local delta = base
if not full then delta = base - new_amount end

-- Fees go back with a full reversal of posted money only (a partial one returns the principal).
local fee, fx = tonumber(t[13] or '0'), tonumber(t[14] or '0')
local fees_back = 0
if effect == E_CREDITED_BACK and full then
  if ty == 'POST' then fees_back = fee + fx else fees_back = tonumber(t[15] or '0') end
end
local tag = string.sub(KEYS[2], 1, string.find(KEYS[2], '}', 1, true))
local group = string.sub(tag, 2, #tag - 1)
local k_dep = ''
local da, db = 0, 0
if dep_id ~= '' then
  k_dep = KEYS[7]
  local dv = redis.call('HMGET', k_dep, 'a', 'b')
  if not dv[1] then return answer(C_DEPOSIT_NOT_FOUND) end
  da, db = tonumber(dv[1]), tonumber(dv[2])
end
if effect == E_CREDITED_BACK then
  if over_max(ua + ub, delta + fees_back) then return answer(C_AMOUNT_TOO_LARGE) end
  if k_dep ~= '' and over_max(da + db, delta) then return answer(C_AMOUNT_TOO_LARGE) end
  if fees_back > 0 and company_id ~= '' and redis.call('EXISTS', KEYS[8]) == 0 then return answer(C_COMPANY_NOT_FOUND) end
end

-- Daily usage counted before the counters existed: on the recorded usage hash if it is still there.
local k_use = nil
local use_amt, use_cnt, use_atm = 0, 0, 0
local counted = tonumber(t[17] or '0')
if t[16] then
  local uv = redis.call('HMGET', t[16], 'amt', 'cnt', 'atm')
  if uv[1] then
    k_use = t[16]
    use_amt, use_cnt, use_atm = tonumber(uv[1]), tonumber(uv[2] or '0'), tonumber(uv[3] or '0')
  end
end

-- Writes.
local p = {}
local uacct = 'U:' .. balance_id
local dacct = 'P:' .. dep_id .. ':' .. group
local moved, principal
if effect == E_RELEASED then
  local closed = S_REVERSED
  if tonumber(t[6] or '0') > 0 then closed = S_CLEARED end
  if full then status = closed end
  local h = {amount = amount, held = tonumber(t[3] or '0'), fees_held = tonumber(t[4] or '0'), dep_held = tonumber(t[5] or '0')}
  principal = h.held
  if not full then principal = math.min(delta, h.held) end
  local _
  moved, _, ua, ub, amount = release_hold(KEYS[2], KEYS[3], KEYS[5], balance_id .. '|' .. tx_id, k_dep, dacct, uacct, h, full,
    new_amount or 0, closed, 'RELEASE', true, p)
else
  principal = delta
  local cur = t[7]
  if effect == E_CREDITED_BACK then
    moved = delta + fees_back
    ua = redis.call('HINCRBY', KEYS[3], 'a', d(moved))
    posting(p, 'W:scheme', uacct .. ':a', delta, 'REVERSE')
    redis.call('HINCRBY', KEYS[6], cur .. ':W:scheme', d(-delta))
    if fees_back > 0 then
      local fee_part = math.min(fee, fees_back)
      local kacct = 'W:income'
      if company_id ~= '' then
        kacct = 'P:' .. company_id .. ':' .. group .. ':a'
        redis.call('HINCRBY', KEYS[8], 'a', d(-fees_back))
      else
        redis.call('HINCRBY', KEYS[6], cur .. ':W:income', d(-fees_back))
      end
      posting(p, kacct, uacct .. ':a', fee_part, 'FEE_BACK')
      posting(p, kacct, uacct .. ':a', fees_back - fee_part, 'FX_BACK')
    end
    if k_dep ~= '' and delta > 0 then
      redis.call('HINCRBY', k_dep, 'a', d(delta))
      redis.call('HINCRBY', KEYS[6], cur .. ':W:deposit', d(-delta))
      posting(p, 'W:deposit', dacct .. ':a', delta, 'REVERSE')
    end
  else
    moved = delta
    ua = redis.call('HINCRBY', KEYS[3], 'a', d(-delta))
    if ua < 0 then redis.call('HSET', KEYS[3], 'neg', '1') end
    posting(p, uacct .. ':a', 'W:scheme', delta, 'REVERSE')
    redis.call('HINCRBY', KEYS[6], cur .. ':W:scheme', d(delta))
    if k_dep ~= '' and delta > 0 then
      redis.call('HINCRBY', k_dep, 'a', d(-delta))
      redis.call('HINCRBY', KEYS[6], cur .. ':W:deposit', d(delta))
      posting(p, dacct .. ':a', 'W:deposit', delta, 'REVERSE')
    end
  end
  if full then status = S_REVERSED else amount = new_amount end
  local rk = 'C'
  if effect == E_DEBITED_BACK then rk = 'D' end
  redis.call('HSET', KEYS[2], 's', status, 'a', d(amount), 'r', '1', 'rk', rk, 'rv', d(principal))
end

if #lines > 0 then
  -- Everything goes back with a full reversal, except the release of a hold partly cleared (a
  -- purchase that did happen): then what is released now, not the transaction.
  if full and not (effect == E_RELEASED and tonumber(t[6] or '0') > 0) then
    give_back(lines, nil, nil, true)
  else
    give_back(lines, principal, nil, false)
  end
  redis.call('HSET', KEYS[2], 'vu', usage_text(lines))
end
if counted > 0 then
  -- Usage given back: what this call gave back of what was counted (the whole count on a full one).
  local back = counted
  if not full then back = math.min(principal, counted) end
  redis.call('HSET', KEYS[2], 'um', d(counted - back))
  if k_use then
    redis.call('HINCRBY', k_use, 'amt', d(-math.min(back, use_amt)))
    if t[18] == '1' and use_atm > 0 then redis.call('HINCRBY', k_use, 'atm', d(-math.min(back, use_atm))) end
    if full and use_cnt > 0 then redis.call('HINCRBY', k_use, 'cnt', -1) end
  end
end
journal(KEYS[4], op, balance_id, tx_id, t[7], now, p, status, principal, t[20])
return finish(KEYS[1], ttl, op, ref, {C_OK, 0, status, effect, moved, ua, ub, amount})
