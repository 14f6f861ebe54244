-- Shared helpers, inlined into each script by the loader (`--- @include common`).
-- Result vector of every mutating script (8 integers):
--   [1] code (0 = ok, see ledger/codes.ts)  [2] replay (1 when read from the idempotency record)
--   [3] transaction status (S_*: 0 none, 1 AUTHORIZED, 2 CLEARED, 3 REVERSED, 4 EXPIRED)
--   [4..8] operation-specific amounts in minor units.
-- The result codes (C_*), transaction statuses (S_*) and reversal effects (E_*) as locals: the
-- loader (ledger/scripts.ts) writes them here from the tables of ledger/codes.ts, so they are
-- defined once, in TypeScript.
--- @constants

-- The largest amount and balance (n12, SPEC 2.2); the loader writes ledger/types.ts's
-- MAX_AMOUNT_MINOR here, so the bound is defined once.
local MAX_AMOUNT = __MAX_AMOUNT_MINOR__

-- True when crediting `amount` to a balance whose (available + blocked) is `held` would take it
-- past the maximum.
local function over_max(held, amount)
  return held + amount > MAX_AMOUNT
end

-- Lua numbers are doubles: exact up to 2^53, which the TypeScript side enforces for every amount.
-- They are formatted with %d because Lua's default number formatting switches to exponents.
local function d(n) return string.format('%d', n) end

-- A result vector stored as result_csv() gives it, read back as a replay (field 2 = 1).
local function replay_of(csv)
  local out = {}
  for n in string.gmatch(csv, '[^,]+') do out[#out + 1] = tonumber(n) end
  out[2] = 1
  return out
end

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
  return replay_of(string.sub(v, j + 1))
end

-- A result vector as stored: its integers comma-separated.
local function result_csv(res)
  local parts = {}
  for k = 1, #res do parts[k] = d(res[k]) end
  return table.concat(parts, ',')
end

local function finish(idem, ttl_ms, op, ref, res)
  if idem ~= '' then
    redis.call('SET', idem, op .. '\n' .. ref .. '\n' .. result_csv(res), 'PX', ttl_ms)
  end
  return res
end

-- The journal: one stream entry per operation in the slot's journal, listing its postings as
-- "from>to>amount>code" separated by ';'. Accounts: U:<balanceId>:a|b (user available/blocked),
-- P:<partnerId>:<group>:a|b (partner tranche), W:<name> (outside world), T:<transferId> (in transit).
-- An operation on a user balance's transaction also gives the transaction's status after it (s)
-- and, for a reversal, the principal it gave back (rv): the history database keeps a transaction's
-- state from its journal once the transaction hash has left Redis (history/copier.ts), and the
-- copier gives a finished transaction's hash its retention from there.
-- A new transaction's id already in use (`existing`: its hash's s, ty and, with the hash as the
-- idempotency record (`by_tx`), io): reversed before it was authorized (an ORPHAN_REVERSAL), or
-- this very operation replayed through its hash, answers ALREADY_REVERSED and nothing is held;
-- any other use TX_EXISTS. Nil when the id is free. Shared by the holds and the increments.
local function taken_id(existing, by_tx, op, idem, ttl_ms, ref, ua, ub)
  if not existing[1] then return nil end
  if existing[2] == 'ORPHAN_REVERSAL' or (by_tx and existing[3] == op) then
    return finish(idem, ttl_ms, op, ref, {C_ALREADY_REVERSED, 0, S_REVERSED, ua, ub, 0, 0, 0})
  end
  return {C_TX_EXISTS, 0, S_NONE, ua, ub, 0, 0, 0}
end

-- `status` (the transaction's after the operation), `reversed` (principal a reversal gave back)
-- and `increments` (the "|"-separated ids of the incremental authorizations under a finished
-- authorization, its `ix` field) are for the history copier: a finished transaction's hash, and
-- its increments' hashes with it, leave Redis once copied (history/copier.ts).
local function journal(jnl, op, balance_id, tx_id, cur, now, postings, status, reversed, increments)
  if #postings == 0 then return end
  -- The entry id carries the server time in ms, so no separate timestamp is stored.
  local f = {'o', op, 'b', balance_id, 'x', tx_id, 'c', cur, 'p', table.concat(postings, ';')}
  if status ~= nil then
    f[#f + 1] = 's'; f[#f + 1] = status
    if reversed ~= nil and reversed > 0 then f[#f + 1] = 'rv'; f[#f + 1] = d(reversed) end
    if increments ~= nil and increments ~= false and increments ~= '' and tonumber(status) ~= S_AUTHORIZED then
      f[#f + 1] = 'ix'; f[#f + 1] = increments
    end
  end
  redis.call('XADD', jnl, '*', unpack(f))
end

-- A transaction whose state changed without moving money (a reversal remembered before its
-- original, ORPHAN_REVERSAL): an entry without postings, so that the copier sees the state too.
local function journal_state(jnl, op, balance_id, tx_id, cur, status)
  redis.call('XADD', jnl, '*', 'o', op, 'b', balance_id, 'x', tx_id, 'c', cur, 'p', '', 's', status)
end

-- A "|"-separated argument (ids never contain "|") as a list of strings; split_on any separator.
local function split_on(s, sep)
  local out = {}
  local i = 1
  while true do
    local j = string.find(s, sep, i, true)
    if not j then
      out[#out + 1] = string.sub(s, i)
      return out
    end
    out[#out + 1] = string.sub(s, i, j - 1)
    i = j + 1
  end
end

local function split(s)
  return split_on(s, '|')
end

local function posting(list, from, to, amount, code)
  if amount > 0 then list[#list + 1] = from .. '>' .. to .. '>' .. d(amount) .. '>' .. code end
end
