-- Posts a transaction on a user balance at once (status CLEARED): the internal types of the
-- management API (TOPUP, PAYMENT, LOAN, CASHBACK, FUNDING, WITHDRAWAL, FEE, COMMISSION, INTEREST)
-- and card credits (refund, payment credit), with the automatic partner postings:
--   role C: the partner tranche is the user's counterpart (credit balance for TOPUP/PAYMENT/LOAN/
--           CASHBACK and FUNDING, company balance for FEE); a credit larger than it is refused.
--   role D: the user's counterpart is the world account ARGV[11]; the deposit tranche is
--           credited back from W:deposit alongside (card credits).
--   role N: the user's counterpart is the world account ARGV[11].
-- KEYS[1] idempotency record  KEYS[2] transaction hash  KEYS[3] user balance hash
-- KEYS[4] partner tranche hash (or KEYS[2] for role N)  KEYS[5] journal stream
-- KEYS[6] balance history list (or KEYS[2]: none kept)  KEYS[7] world accounts hash
-- ARGV[1] type  ARGV[2] direction + (credit the user) or - (debit the user)  ARGV[3] amount
-- ARGV[4] forced 0|1  ARGV[5] nowMs  ARGV[6] idempotency TTL ms  ARGV[7] balanceId  ARGV[8] txId
-- ARGV[9] partnerId or ''  ARGV[10] role C|D|N  ARGV[11] world account (W:...)
-- ARGV[12] 1 = do not record a partner shortfall (the caller rebalances and retries)
-- ARGV[13..] meta name, value pairs
-- A posting that would take the user balance (available + blocked) or the partner tranche it
-- credits past the maximum amount is refused with AMOUNT_TOO_LARGE, forced or not.
-- Returns {code, replay, status, userAvailable, userBlocked, partnerTrancheAvailable, 0, 0}
--- @include common
local ty = ARGV[1]
local credit = ARGV[2] == '+'
local amount = tonumber(ARGV[3])
local forced = ARGV[4] == '1'
local now = ARGV[5]
local ttl = ARGV[6]
local balance_id = ARGV[7]
local tx_id = ARGV[8]
local partner_id = ARGV[9]
local role = ARGV[10]
local world = ARGV[11]
local op = 'post:' .. ty
local ref = balance_id .. '/' .. tx_id
local prior = replayed(KEYS[1], op, ref)
if prior then return prior end

local u = redis.call('HMGET', KEYS[3], 'a', 'b', 'cur')
if not u[1] then return finish(KEYS[1], ttl, op, ref, {C_BALANCE_NOT_FOUND, 0, S_NONE, 0, 0, 0, 0, 0}) end
local ua = tonumber(u[1])
local ub = tonumber(u[2])
local cur = u[3]
if redis.call('EXISTS', KEYS[2]) == 1 then return {C_TX_EXISTS, 0, S_NONE, ua, ub, 0, 0, 0} end
local pa, pb = 0, 0
if role ~= 'N' then
  local pv = redis.call('HMGET', KEYS[4], 'a', 'cur', 'b')
  if not pv[1] then return finish(KEYS[1], ttl, op, ref, {C_PARTNER_NOT_FOUND, 0, S_NONE, ua, ub, 0, 0, 0}) end
  if pv[2] ~= cur then return finish(KEYS[1], ttl, op, ref, {C_CURRENCY_MISMATCH, 0, S_NONE, ua, ub, 0, 0, 0}) end
  pa = tonumber(pv[1])
  pb = tonumber(pv[3] or '0')
end
-- Bounds (SPEC 2.2), forced or not: a credit to the user (available + blocked), a debit to the
-- partner tranche it credits (FUNDING, FEE), a card credit to the deposit tranche credited back.
if credit and over_max(ua + ub, amount) then
  return finish(KEYS[1], ttl, op, ref, {C_AMOUNT_TOO_LARGE, 0, S_NONE, ua, ub, pa, 0, 0})
end
if ((role == 'C' and not credit) or role == 'D') and over_max(pa + pb, amount) then
  return finish(KEYS[1], ttl, op, ref, {C_AMOUNT_TOO_LARGE, 0, S_NONE, ua, ub, pa, 0, 0})
end
if not forced then
  if not credit and ua < amount then
    return finish(KEYS[1], ttl, op, ref, {C_INSUFFICIENT_FUNDS, 0, S_NONE, ua, ub, pa, 0, 0})
  end
  if credit and role == 'C' and pa < amount then
    local res = {C_INSUFFICIENT_COLLATERAL, 0, S_NONE, ua, ub, pa, 0, 0}
    if ARGV[12] == '1' then return res end
    return finish(KEYS[1], ttl, op, ref, res)
  end
end

-- Writes.
local tag = string.sub(KEYS[3], 2, string.find(KEYS[3], '}', 1, true) - 1)
local uacct = 'U:' .. balance_id .. ':a'
local pacct = 'P:' .. partner_id .. ':' .. tag .. ':a'
local p = {}
local signed = amount
if not credit then signed = -amount end
ua = redis.call('HINCRBY', KEYS[3], 'a', d(signed))
if role == 'C' then
  pa = redis.call('HINCRBY', KEYS[4], 'a', d(-signed))
  if credit then posting(p, pacct, uacct, amount, ty) else posting(p, uacct, pacct, amount, ty) end
else
  redis.call('HINCRBY', KEYS[7], cur .. ':' .. world, d(-signed))
  if credit then posting(p, world, uacct, amount, ty) else posting(p, uacct, world, amount, ty) end
  if role == 'D' then
    pa = redis.call('HINCRBY', KEYS[4], 'a', d(amount))
    redis.call('HINCRBY', KEYS[7], cur .. ':W:deposit', d(-amount))
    posting(p, 'W:deposit', pacct, amount, ty)
  end
end
if ua < 0 then redis.call('HSET', KEYS[3], 'neg', '1') end
local fields = {'s', S_CLEARED, 'a', d(amount), 'c', d(amount), 'cur', cur, 'ty', ty, 't', now}
if partner_id ~= '' then fields[#fields + 1] = 'pp'; fields[#fields + 1] = partner_id end
if forced then fields[#fields + 1] = 'fc'; fields[#fields + 1] = '1' end
for i = 13, #ARGV, 2 do
  fields[#fields + 1] = 'm:' .. ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
end
redis.call('HSET', KEYS[2], unpack(fields))
if KEYS[6] ~= KEYS[2] then redis.call('LPUSH', KEYS[6], tx_id) end
journal(KEYS[5], op, balance_id, tx_id, cur, now, p, S_CLEARED)
return finish(KEYS[1], ttl, op, ref, {C_OK, 0, S_CLEARED, ua, ub, pa, 0, 0})
