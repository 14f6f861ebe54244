-- Completion advice (0120 naming an open authorization): the authorization's amount becomes the
-- advice's, and its hold with it (what a partial clearing posted already stays posted): one hold,
-- never two. Down: the difference is released, user and deposit alike. Up: the excess is held
-- forced (an advice is never declined), from the user's available (which may go below zero) and
-- the deposit tranche's. The fees held stay as they are (as a partial reversal leaves them); the
-- status stays AUTHORIZED (a clearing comes later), the expiry as it was. The velocity usage the
-- authorization counted follows its amount: down gives the difference back (the increments'
-- countings first), up counts the excess on the authorization's own counters whose usage hash
-- still exists. Only an open authorization (a hold() still AUTHORIZED) is replaced.
-- KEYS[1] idempotency record  KEYS[2] transaction hash  KEYS[3] user balance hash
-- KEYS[4] journal stream  KEYS[5] the deposit tranche the transaction names (or KEYS[2])
-- KEYS[6..] the usage hashes the transaction's `vu` names
-- ARGV[1] new amount  ARGV[2] nowMs  ARGV[3] idempotency TTL ms  ARGV[4] balanceId  ARGV[5] txId
-- ARGV[6] the deposit id behind KEYS[5] or '' (when the transaction names another, or usage hashes
--   not passed: STALE_KEYS, nothing written; the caller reads again)
-- Returns {code, replay, status, released, forced, userAvailable, userBlocked, amount after};
--   TRANSACTION_NOT_FOUND, TRANSACTION_NOT_OPEN (cleared, reversed, expired, not an authorization).
--- @include common
--- @include counters
local amount = tonumber(ARGV[1])
local now, ttl, balance_id, tx_id = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local op = 'replace'
local ref = balance_id .. '/' .. tx_id
local prior = replayed(KEYS[1], op, ref)
if prior then return prior end

local t = redis.call('HMGET', KEYS[2], 's', 'a', 'h', 'db', 'c', 'dp', 'ty', 'vu', 'cur')
if not t[1] then return finish(KEYS[1], ttl, op, ref, {C_TX_NOT_FOUND, 0, S_NONE, 0, 0, 0, 0, 0}) end
local dep_id = t[6] or ''
local lines = usage_lines(t[8])
if dep_id ~= ARGV[6] or not usage_keys_passed(lines, key_set(KEYS, 6)) then return {C_STALE_KEYS, 0, S_NONE, 0, 0, 0, 0, 0} end
local status = tonumber(t[1])
local before = tonumber(t[2])
if t[7] or status ~= S_AUTHORIZED then return finish(KEYS[1], ttl, op, ref, {C_NOT_OPEN, 0, status, 0, 0, 0, 0, before}) end
local u = redis.call('HMGET', KEYS[3], 'a', 'b')
if not u[1] then return finish(KEYS[1], ttl, op, ref, {C_BALANCE_NOT_FOUND, 0, status, 0, 0, 0, 0, before}) end

-- Writes.
local held, dep_held, cleared = tonumber(t[3] or '0'), tonumber(t[4] or '0'), tonumber(t[5] or '0')
local new_held = math.max(amount - cleared, 0)
local delta = new_held - held
local released, forced = math.max(-delta, 0), math.max(delta, 0)
local p = {}
local uacct = 'U:' .. balance_id
local ua = redis.call('HINCRBY', KEYS[3], 'a', d(-delta))
local ub = redis.call('HINCRBY', KEYS[3], 'b', d(delta))
if ua < 0 then redis.call('HSET', KEYS[3], 'neg', '1') end
posting(p, uacct .. ':b', uacct .. ':a', released, 'RELEASE')
posting(p, uacct .. ':a', uacct .. ':b', forced, 'HOLD')
local fields = {'a', d(amount), 'h', d(new_held)}
if dep_id ~= '' then
  local d_delta = new_held - dep_held
  local group = string.sub(KEYS[2], 2, string.find(KEYS[2], '}', 1, true) - 1)
  local dacct = 'P:' .. dep_id .. ':' .. group
  redis.call('HINCRBY', KEYS[5], 'a', d(-d_delta))
  redis.call('HINCRBY', KEYS[5], 'b', d(d_delta))
  posting(p, dacct .. ':b', dacct .. ':a', math.max(-d_delta, 0), 'RELEASE')
  posting(p, dacct .. ':a', dacct .. ':b', math.max(d_delta, 0), 'HOLD')
  fields[#fields + 1] = 'db'; fields[#fields + 1] = d(new_held)
end
if #lines > 0 then
  if amount < before then give_back(lines, before - amount, nil, false) elseif amount > before then count_more(lines, amount - before) end
  fields[#fields + 1] = 'vu'; fields[#fields + 1] = usage_text(lines)
end
redis.call('HSET', KEYS[2], unpack(fields))
journal(KEYS[4], op, balance_id, tx_id, t[9], now, p)
return finish(KEYS[1], ttl, op, ref, {C_OK, 0, status, released, forced, ua, ub, amount})
