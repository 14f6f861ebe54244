-- Incremental authorization: more money held under an open authorization of the same balance
-- (one transaction, one expiry). Checked like a hold (deposit then user funds, the counters'
-- amount limits) before anything is written; on approval the increment's amount (and fees) are
-- added to the original's hold, the original's expiry becomes the later of the two, and the
-- increment gets a record of its own (type INCREMENT, `o` = the original) so that a reversal
-- naming it gives back the increment only (reverse-increment-n). A declined increment leaves the
-- original exactly as it was.
-- The deposit and company tranches are those the original names (read by the caller and checked
-- here: when the original names others, STALE_KEYS and nothing is written; the caller reads again).
-- An increment counts its amount on its counters, not a transaction: it is the same transaction.
-- KEYS[1] idempotency record (or KEYS[2]: the increment's hash is the record)  KEYS[2] the increment's hash
-- KEYS[3] user balance hash  KEYS[4] deposit tranche the original names (or KEYS[2])
-- KEYS[5] company tranche (the original's, else the increment's; or KEYS[2])  KEYS[6] journal stream
-- KEYS[7] expiry index  KEYS[8] balance history list (or KEYS[2])  KEYS[9] the original's hash
-- KEYS[10..] the card's usage hashes of the increment's counters (one per counter block)
-- ARGV[1] "|"-separated: 1 amount, 2 fee, 3 FX fee, 4 expiresAtMs, 5 nowMs, 6 idempotency TTL ms,
--   7 balanceId, 8 increment txId, 9 original txId, 10 the deposit id behind KEYS[4] or '',
--   11 the company id behind KEYS[5] or '', 12 '1' = do not record a deposit shortfall (the caller
--   refills the tranche and retries), 13 '1' = the user's funds are unchecked (EXTERNAL_BALANCE),
--   14.. the counter blocks (includes/counters.lua parse_counters)
-- ARGV[2..] meta name, value pairs (on the increment's record)
-- Returns {code, replay, status, userAvailable, userBlocked, depositAvailable, depositBlocked, wouldDecline}
--   as the hold scripts do; TRANSACTION_NOT_FOUND (no such original), TRANSACTION_NOT_OPEN (not an
--   open authorization: cleared, reversed, expired, a posted debit, an increment).
--- @include common
--- @include counters
local A = split(ARGV[1])
local amount, fee, fx = tonumber(A[1]), tonumber(A[2]), tonumber(A[3])
local expires_at, now, ttl = A[4], A[5], A[6]
local balance_id, inc_id, orig_id, deposit_id, company_id = A[7], A[8], A[9], A[10], A[11]
local k_idem, k_inc, k_user, k_jnl, k_exp, k_hist, k_orig = KEYS[1], KEYS[2], KEYS[3], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local op = 'increment'
local ref = balance_id .. '/' .. inc_id

-- As a hold: with the increment's hash as the record, an approval keeps its result there.
local by_tx = k_idem == k_inc
local existing
if by_tx then
  existing = redis.call('HMGET', k_inc, 's', 'ty', 'io', 'ir')
  if existing[3] == op and tonumber(existing[1]) ~= S_REVERSED then return replay_of(existing[4]) end
  k_idem = ''
else
  local prior = replayed(k_idem, op, ref)
  if prior then return prior end
  existing = redis.call('HMGET', k_inc, 's', 'ty')
end

-- Every check comes before the first write.
local u = redis.call('HMGET', k_user, 'a', 'b', 'cur')
if not u[1] then return finish(k_idem, ttl, op, ref, {C_BALANCE_NOT_FOUND, 0, S_NONE, 0, 0, 0, 0, 0}) end
local ua, ub, cur = tonumber(u[1]), tonumber(u[2]), u[3]
local taken = taken_id(existing, by_tx, op, k_idem, ttl, ref, ua, ub)
if taken then return taken end
local o = redis.call('HMGET', k_orig, 's', 'ty', 'dp', 'kp', 'e', 'ix')
if not o[1] then return finish(k_idem, ttl, op, ref, {C_TX_NOT_FOUND, 0, S_NONE, ua, ub, 0, 0, 0}) end
if o[2] or tonumber(o[1]) ~= S_AUTHORIZED then return finish(k_idem, ttl, op, ref, {C_NOT_OPEN, 0, S_NONE, ua, ub, 0, 0, 0}) end
local orig_company = o[4] or ''
if (o[3] or '') ~= deposit_id or (orig_company ~= '' and orig_company ~= company_id) then
  return {C_STALE_KEYS, 0, S_NONE, ua, ub, 0, 0, 0}
end
local k_dep = nil
if deposit_id ~= '' then k_dep = KEYS[4] end
local da, db = 0, 0
if k_dep then
  local dv = redis.call('HMGET', k_dep, 'a', 'b', 'cur')
  if not dv[1] then return finish(k_idem, ttl, op, ref, {C_DEPOSIT_NOT_FOUND, 0, S_NONE, ua, ub, 0, 0, 0}) end
  if dv[3] ~= cur then return finish(k_idem, ttl, op, ref, {C_CURRENCY_MISMATCH, 0, S_NONE, ua, ub, 0, 0, 0}) end
  da, db = tonumber(dv[1]), tonumber(dv[2])
end
if company_id ~= '' then
  local kc = redis.call('HGET', KEYS[5], 'cur')
  if not kc then return finish(k_idem, ttl, op, ref, {C_COMPANY_NOT_FOUND, 0, S_NONE, ua, ub, da, db, 0}) end
  if kc ~= cur then return finish(k_idem, ttl, op, ref, {C_CURRENCY_MISMATCH, 0, S_NONE, ua, ub, da, db, 0}) end
end
local counters = nil
local would = 0
if #KEYS > 9 then
  local use_keys = {}
  for i = 10, #KEYS do use_keys[#use_keys + 1] = KEYS[i] end
  counters = parse_counters(use_keys, A, 14)
  local over
  over, would = check_counters(counters, amount, false)
  if over then return finish(k_idem, ttl, op, ref, {over, 0, S_NONE, ua, ub, da, db, would}) end
end
local total = amount + fee + fx
if k_dep and da < amount then
  local res = {C_INSUFFICIENT_DEPOSIT, 0, S_NONE, ua, ub, da, db, would}
  if A[12] == '1' then return res end
  return finish(k_idem, ttl, op, ref, res)
end
if ua < total and A[13] ~= '1' then
  return finish(k_idem, ttl, op, ref, {C_INSUFFICIENT_FUNDS, 0, S_NONE, ua, ub, da, db, would})
end

-- Writes: the money held under the original, the increment's own record.
local group = string.sub(k_user, 2, string.find(k_user, '}', 1, true) - 1)
local uacct = 'U:' .. balance_id
local p = {}
ua = ua - total
ub = ub + total
if ua < 0 then
  redis.call('HSET', k_user, 'a', d(ua), 'b', d(ub), 'neg', '1')
else
  redis.call('HSET', k_user, 'a', d(ua), 'b', d(ub))
end
posting(p, uacct .. ':a', uacct .. ':b', total, 'HOLD')
redis.call('HINCRBY', k_orig, 'a', d(amount))
redis.call('HINCRBY', k_orig, 'h', d(amount))
if fee + fx > 0 then redis.call('HINCRBY', k_orig, 'fh', d(fee + fx)) end
if fee > 0 then redis.call('HINCRBY', k_orig, 'f', d(fee)) end
if fx > 0 then redis.call('HINCRBY', k_orig, 'x', d(fx)) end
if k_dep then
  da = da - amount
  db = db + amount
  redis.call('HSET', k_dep, 'a', d(da), 'b', d(db))
  redis.call('HINCRBY', k_orig, 'db', d(amount))
  posting(p, 'P:' .. deposit_id .. ':' .. group .. ':a', 'P:' .. deposit_id .. ':' .. group .. ':b', amount, 'HOLD')
end
-- Fees of the whole transaction go to one company balance: the original's, else the increment's.
if company_id ~= '' and orig_company == '' then redis.call('HSET', k_orig, 'kp', company_id) end
-- The original names its increments (`ix`), so that their hashes leave Redis with it (history).
redis.call('HSET', k_orig, 'ix', o[6] and (o[6] .. '|' .. inc_id) or inc_id)
-- One transaction, one expiry: the later of the two, as the schemes extend an incremented authorization.
if tonumber(expires_at) > tonumber(o[5] or '0') then
  redis.call('HSET', k_orig, 'e', expires_at)
  redis.call('ZADD', k_exp, expires_at, balance_id .. '|' .. orig_id)
end
if counters then
  local vu = redis.call('HGET', k_orig, 'vu')
  local lines = count_counters(counters, amount, false, inc_id)
  if vu and vu ~= '' then lines = vu .. ';' .. lines end
  redis.call('HSET', k_orig, 'vu', lines)
end
local res = {C_OK, 0, S_AUTHORIZED, ua, ub, da, db, would}
local fields = {'s', S_AUTHORIZED, 'ty', 'INCREMENT', 'o', orig_id, 'a', d(amount), 'cur', cur, 't', now}
if fee > 0 then fields[#fields + 1] = 'f'; fields[#fields + 1] = d(fee) end
if fx > 0 then fields[#fields + 1] = 'x'; fields[#fields + 1] = d(fx) end
for i = 2, #ARGV, 2 do
  fields[#fields + 1] = 'm:' .. ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
end
if by_tx then
  fields[#fields + 1] = 'io'; fields[#fields + 1] = op
  fields[#fields + 1] = 'ir'; fields[#fields + 1] = result_csv(res)
end
redis.call('HSET', k_inc, unpack(fields))
if k_hist ~= k_inc then redis.call('LPUSH', k_hist, inc_id) end
journal(k_jnl, op, balance_id, inc_id, cur, now, p)
return finish(k_idem, ttl, op, ref, res)
