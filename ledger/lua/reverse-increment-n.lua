-- Reverses an incremental authorization (increment-hold-n), in full or down to a new final
-- amount of the increment (field 95): gives back the increment only, out of its original's hold
-- and bounded by what that still holds (amount, deposit, and on a full reversal the increment's
-- fees), with the velocity usage the increment counted. The original's amount goes down by what
-- is given back; the original stays open. An increment is reversed at most once (r = 1); once its
-- original is reversed or has expired there is nothing left to give back (ALREADY_REVERSED), and
-- once it is cleared the money is posted (TRANSACTION_NOT_OPEN: nothing moves).
-- KEYS[1] idempotency record  KEYS[2] the increment's hash  KEYS[3] user balance hash
-- KEYS[4] journal stream  KEYS[5] the original's hash  KEYS[6] the deposit tranche the original
--   names (or KEYS[2])  KEYS[7..] the usage hashes the original's `vu` names
-- ARGV[1] the increment's new final amount, '' = full  ARGV[2] nowMs  ARGV[3] idempotency TTL ms
-- ARGV[4] balanceId  ARGV[5] the increment's txId  ARGV[6] the original's txId  ARGV[7] the
--   deposit id behind KEYS[6] or '' (when the records name others: STALE_KEYS, nothing written)
-- Returns {code, replay, status (the increment's), effect, userMoved (fees included),
--   userAvailable, userBlocked, the increment's amount after} as reverse-transaction-n does.
--- @include common
--- @include counters
local now, ttl, balance_id, inc_id, orig_id = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local op = 'reverse'
local ref = balance_id .. '/' .. inc_id
local prior = replayed(KEYS[1], op, ref)
if prior then return prior end

local u = redis.call('HMGET', KEYS[3], 'a', 'b')
if not u[1] then return finish(KEYS[1], ttl, op, ref, {C_BALANCE_NOT_FOUND, 0, S_NONE, E_NONE, 0, 0, 0, 0}) end
local ua, ub = tonumber(u[1]), tonumber(u[2])
local t = redis.call('HMGET', KEYS[2], 's', 'a', 'ty', 'o', 'r', 'f', 'x', 'cur')
if not t[1] then return finish(KEYS[1], ttl, op, ref, {C_TX_NOT_FOUND, 0, S_NONE, E_NONE, 0, ua, ub, 0}) end
if t[3] ~= 'INCREMENT' or t[4] ~= orig_id then return {C_STALE_KEYS, 0, S_NONE, E_NONE, 0, ua, ub, 0} end
local status = tonumber(t[1])
local amount = tonumber(t[2])
local function answer(code) return finish(KEYS[1], ttl, op, ref, {code, 0, status, E_NONE, 0, ua, ub, amount}) end
local o = redis.call('HMGET', KEYS[5], 's', 'a', 'h', 'fh', 'db', 'dp', 'vu', 'f', 'x')
local dep_id = o[6] or ''
if dep_id ~= ARGV[7] then return {C_STALE_KEYS, 0, S_NONE, E_NONE, 0, ua, ub, 0} end
local lines = usage_lines(o[7])
if not usage_keys_passed(lines, key_set(KEYS, 7)) then return {C_STALE_KEYS, 0, S_NONE, E_NONE, 0, ua, ub, 0} end
if t[5] == '1' or status == S_REVERSED then return answer(C_ALREADY_REVERSED) end
local orig_status = tonumber(o[1])
if orig_status == S_REVERSED or orig_status == S_EXPIRED then return answer(C_ALREADY_REVERSED) end
if orig_status ~= S_AUTHORIZED then return answer(C_NOT_OPEN) end
local new_amount = tonumber(ARGV[1])
if new_amount and new_amount > amount then return answer(C_INVALID_AMOUNT) end
local full = new_amount == nil or new_amount == 0
local delta = amount
if not full then delta = amount - new_amount end

-- What the original still holds bounds what goes back.
local held, fees_held, dep_held = tonumber(o[3] or '0'), tonumber(o[4] or '0'), tonumber(o[5] or '0')
local principal = math.min(delta, held)
local fee, fx = tonumber(t[6] or '0'), tonumber(t[7] or '0')
local fees_back = 0
if full then fees_back = math.min(fee + fx, fees_held) end
local d_rel = 0
if dep_id ~= '' then d_rel = math.min(delta, dep_held) end

-- Writes.
local p = {}
local uacct = 'U:' .. balance_id
local moved = principal + fees_back
ua = redis.call('HINCRBY', KEYS[3], 'a', d(moved))
ub = redis.call('HINCRBY', KEYS[3], 'b', d(-moved))
posting(p, uacct .. ':b', uacct .. ':a', moved, 'RELEASE')
if d_rel > 0 then
  local group = string.sub(KEYS[5], 2, string.find(KEYS[5], '}', 1, true) - 1)
  local dacct = 'P:' .. dep_id .. ':' .. group
  redis.call('HINCRBY', KEYS[6], 'a', d(d_rel))
  redis.call('HINCRBY', KEYS[6], 'b', d(-d_rel))
  posting(p, dacct .. ':b', dacct .. ':a', d_rel, 'RELEASE')
end
local orig_fields = {'a', d(tonumber(o[2]) - principal), 'h', d(held - principal), 'fh', d(fees_held - fees_back), 'db', d(dep_held - d_rel)}
if full then
  orig_fields[#orig_fields + 1] = 'f'; orig_fields[#orig_fields + 1] = d(math.max(tonumber(o[8] or '0') - fee, 0))
  orig_fields[#orig_fields + 1] = 'x'; orig_fields[#orig_fields + 1] = d(math.max(tonumber(o[9] or '0') - fx, 0))
end
if #lines > 0 then
  -- The increment's own counting first; what a partial reversal of the original already took
  -- from it comes off the other countings, so usage keeps following the transaction's amount.
  local got = give_back(lines, principal, inc_id, false)
  if got < principal then give_back(lines, principal - got, nil, false) end
  orig_fields[#orig_fields + 1] = 'vu'; orig_fields[#orig_fields + 1] = usage_text(lines)
end
redis.call('HSET', KEYS[5], unpack(orig_fields))
if full then status = S_REVERSED else amount = new_amount end
redis.call('HSET', KEYS[2], 's', status, 'a', d(amount), 'r', '1', 'rk', 'R', 'rv', d(principal))
journal(KEYS[4], op, balance_id, inc_id, t[8], now, p)
return finish(KEYS[1], ttl, op, ref, {C_OK, 0, status, E_RELEASED, moved, ua, ub, amount})
