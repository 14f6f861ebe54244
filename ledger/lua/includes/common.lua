-- Shared helpers, inlined into each script by the loader (`--- @include common`).
-- Result vector of every mutating script (8 integers):
--   [1] code (0 = ok, see ledger/codes.ts)  [2] replay (1 when read from the idempotency record)
--   [3] transaction status (0 none, 1 AUTHORIZED, 2 CLEARED, 3 REVERSED, 4 EXPIRED)
--   [4..8] operation-specific amounts in minor units.
local C_OK = 0
local C_INSUFFICIENT_FUNDS = 1
local C_INSUFFICIENT_DEPOSIT = 2
local C_BALANCE_NOT_FOUND = 3
local C_DEPOSIT_NOT_FOUND = 4
local C_TX_NOT_FOUND = 5
local C_TX_EXISTS = 6
local C_ALREADY_REVERSED = 7
local C_IDEM_CONFLICT = 9
local C_INSUFFICIENT_COLLATERAL = 10
local C_COLLATERAL_NOT_FOUND = 11
local C_CURRENCY_MISMATCH = 12
local C_INVALID_AMOUNT = 13
local C_NOT_DUE = 14
local C_PARTNER_NOT_FOUND = 15
local C_COMPANY_NOT_FOUND = 16
local C_NOT_OPEN = 17
local C_AMOUNT_LIMIT = 18
local C_COUNT_LIMIT = 19
local C_AMOUNT_TOO_LARGE = 20
local C_STALE_KEYS = 21
local C_GUARD_PRESENT = 22
local C_GUARD_CHANGED = 23

-- The largest amount and balance (n12, SPEC 2.2); the loader writes ledger/types.ts's
-- MAX_AMOUNT_MINOR here, so the bound is defined once.
local MAX_AMOUNT = __MAX_AMOUNT_MINOR__

-- True when crediting `amount` to a balance whose (available + blocked) is `held` would take it
-- past the maximum.
local function over_max(held, amount)
  return held + amount > MAX_AMOUNT
end

local S_NONE = 0
local S_AUTHORIZED = 1
local S_CLEARED = 2
local S_REVERSED = 3
local S_EXPIRED = 4

-- Lua numbers are doubles: exact up to 2^53, which the TypeScript side enforces for every amount.
-- They are formatted with %d because Lua's default number formatting switches to exponents.
local function d(n) return string.format('%d', n) end

-- An idempotency record is "op\nref\ncsv of the result vector". A key reused for a different
-- operation or transaction answers IDEMPOTENCY_CONFLICT and moves nothing.
local function replayed(idem, op, ref)
  local v = redis.call('GET', idem)
  if not v then return nil end
  local i = string.find(v, '\n', 1, true)
  local j = string.find(v, '\n', i + 1, true)
  if string.sub(v, 1, i - 1) ~= op or string.sub(v, i + 1, j - 1) ~= ref then
    return {C_IDEM_CONFLICT, 0, 0, 0, 0, 0, 0, 0}
  end
  local out = {}
  for n in string.gmatch(string.sub(v, j + 1), '[^,]+') do out[#out + 1] = tonumber(n) end
  out[2] = 1
  return out
end

local function finish(idem, ttl_ms, op, ref, res)
  if idem ~= '' then
    local parts = {}
    for k = 1, #res do parts[k] = d(res[k]) end
    redis.call('SET', idem, op .. '\n' .. ref .. '\n' .. table.concat(parts, ','), 'PX', ttl_ms)
  end
  return res
end

-- The journal: one stream entry per operation in the slot's journal, listing its postings as
-- "from>to>amount>code" separated by ';'. Accounts: U:<balanceId>:a|b (user available/blocked),
-- P:<partnerId>:<group>:a|b (partner tranche), W:<name> (outside world), T:<transferId> (in transit).
local function journal(jnl, op, balance_id, tx_id, cur, now, postings)
  if #postings == 0 then return end
  -- The entry id carries the server time in ms, so no separate timestamp is stored.
  redis.call('XADD', jnl, '*', 'o', op, 'b', balance_id, 'x', tx_id, 'c', cur, 'p', table.concat(postings, ';'))
end

local function posting(list, from, to, amount, code)
  if amount > 0 then list[#list + 1] = from .. '>' .. to .. '>' .. d(amount) .. '>' .. code end
end
