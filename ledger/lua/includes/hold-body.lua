-- Body shared by hold-deposit-then-user-12, hold-user-11 and hold-many (see their headers for
-- KEYS/ARGV). The fixed arguments come packed as one "|"-separated string (ids never contain "|"):
-- one argument instead of thirteen halves the client's cost of sending the hot-path call.
-- Needs includes/common.lua and includes/counters.lua before it.
-- HoldArgs.guard: A[14] comma-separated field names of k_guard, A[15] the values the caller saw
-- (\31-separated); k_absent must not exist. A[16] (HoldArgs.guard.sequence, '' or absent: none):
-- "<field>\31<owner field>\31<value>\31<owner>", a number consumed in k_guard: refused unless the
-- value is above the field's, or equal to it with the owner field holding this owner; then both are
-- set, before the funds are looked at (a replay is refused whatever the funds say). Returns a result
-- vector when the guard fails, else nil.
local function guard_failed(k_guard, k_absent, A)
  if k_absent and redis.call('EXISTS', k_absent) == 1 then return {C_GUARD_PRESENT, 0, S_NONE, 0, 0, 0, 0, 0} end
  local names = split_on(A[14], ',')
  local seen = redis.call('HMGET', k_guard, unpack(names))
  local expected = split_on(A[15], '\31')
  for i = 1, #names do
    if (seen[i] or '') ~= (expected[i] or '') then return {C_GUARD_CHANGED, 0, S_NONE, 0, 0, 0, 0, 0} end
  end
  if A[16] ~= nil and A[16] ~= '' then
    local q = split_on(A[16], '\31')
    local value = tonumber(q[3])
    local cur = redis.call('HMGET', k_guard, q[1], q[2])
    local highest = tonumber(cur[1] or '-1')
    if value > highest then
      redis.call('HSET', k_guard, q[1], q[3], q[2], q[4])
    elseif not (value == highest and cur[2] == q[4]) then
      return {C_GUARD_REPLAYED, 0, S_NONE, 0, 0, 0, 0, 0}
    end
  end
  return nil
end

-- `packed`: the fixed arguments; `meta`: ARGV-like list of name, value pairs from index `m0`.
-- k_idem: the idempotency record, or k_tx itself when the transaction hash is the record
-- (HoldArgs.idempotencyKey null: nothing is remembered of a decline, which moved nothing).
-- k_guard / k_absent: HoldArgs.guard's keys, or k_tx when there is no guard (A[14] empty).
-- use_keys: the card's usage hashes of HoldArgs.counters (their blocks from A[17]), or nil.
-- The answer's position 8 names the first SHADOW counter over its limit (check_counters), or 0.
local function hold(k_idem, k_tx, k_user, k_dep, k_company, k_jnl, k_exp, k_hist, k_world, use_keys, k_orphan, k_guard, k_absent, packed, meta, m0, m1)
  local A = split(packed)
  if A[14] ~= nil and A[14] ~= '' then
    local failed = guard_failed(k_guard, k_absent ~= k_tx and k_absent or nil, A)
    if failed then return failed end
  end
  local mode = A[1]
  local forced = A[2] == '1'
  -- '2': the user's funds are the partner's to decide (EXTERNAL_BALANCE): the deposit and the
  -- limits are checked, the user balance only records the hold (it may go below zero).
  local user_unchecked = A[2] == '2'
  local amount = tonumber(A[3])
  local fee = tonumber(A[4])
  local fx = tonumber(A[5])
  local expires_at = A[6]
  local now = A[7]
  local balance_id = A[9]
  local tx_id = A[10]
  local deposit_id = A[11]
  local company_id = A[12]
  local op = 'hold' .. mode

  -- HoldArgs.idempotencyKey null (k_idem is k_tx): the transaction hash is the idempotency record.
  -- An approved hold or debit keeps its operation (io) and result vector (ir) in the hash it
  -- writes; the same operation asked again for the transaction is answered from there. The one
  -- read of the hash also gives its status and type, for the checks below.
  local by_tx = k_idem == k_tx
  local existing
  if by_tx then
    existing = redis.call('HMGET', k_tx, 's', 'ty', 'io', 'ir')
    -- Replayed while the transaction stands. One reversed since (the undo of a message answered
    -- 96 after its hold landed, compensation.ts) is not approved again: declined below.
    if existing[3] == op and tonumber(existing[1]) ~= S_REVERSED then return replay_of(existing[4]) end
  else
    local prior = replayed(k_idem, op, balance_id .. '/' .. tx_id)
    if prior then return prior end
  end
  local ttl = A[8]
  local ref = balance_id .. '/' .. tx_id
  -- finish() writes no separate record when the transaction hash is the record.
  if by_tx then k_idem = '' end

  -- Every check comes before the first write: Redis does not roll a script back.
  local u = redis.call('HMGET', k_user, 'a', 'b', 'cur')
  if not u[1] then return finish(k_idem, ttl, op, ref, {C_BALANCE_NOT_FOUND, 0, S_NONE, 0, 0, 0, 0, 0}) end
  local ua = tonumber(u[1])
  local ub = tonumber(u[2])
  local cur = u[3]
  if not by_tx then existing = redis.call('HMGET', k_tx, 's', 'ty') end
  local taken = taken_id(existing, by_tx, op, k_idem, ttl, ref, ua, ub)
  if taken then return taken end
  -- The same original may have been reversed under the id its reversal could name (without
  -- field 41, SPEC 2.3): k_orphan is that record, or k_tx itself when there is none to look at.
  if k_orphan ~= k_tx and redis.call('HGET', k_orphan, 'ty') == 'ORPHAN_REVERSAL' then
    return finish(k_idem, ttl, op, ref, {C_ALREADY_REVERSED, 0, S_REVERSED, ua, ub, 0, 0, 0})
  end
  local da, db = 0, 0
  if k_dep then
    local dv = redis.call('HMGET', k_dep, 'a', 'b', 'cur')
    if not dv[1] then return finish(k_idem, ttl, op, ref, {C_DEPOSIT_NOT_FOUND, 0, S_NONE, ua, ub, 0, 0, 0}) end
    if dv[3] ~= cur then return finish(k_idem, ttl, op, ref, {C_CURRENCY_MISMATCH, 0, S_NONE, ua, ub, 0, 0, 0}) end
    da = tonumber(dv[1])
    db = tonumber(dv[2])
  end
  local total = amount + fee + fx
  if company_id ~= '' then
    local kc = redis.call('HMGET', k_company, 'cur', 'a', 'b')
    if not kc[1] then return finish(k_idem, ttl, op, ref, {C_COMPANY_NOT_FOUND, 0, S_NONE, ua, ub, da, db, 0}) end
    if kc[1] ~= cur then return finish(k_idem, ttl, op, ref, {C_CURRENCY_MISMATCH, 0, S_NONE, ua, ub, da, db, 0}) end
    -- A single-message debit credits its fees to the company tranche at once: bounded, unless
    -- forced (an advice is never declined).
    if mode == 'P' and not forced and over_max(tonumber(kc[2]) + tonumber(kc[3]), fee + fx) then
      return finish(k_idem, ttl, op, ref, {C_AMOUNT_TOO_LARGE, 0, S_NONE, ua, ub, da, db, 0})
    end
  end
  local counters = nil
  local would = 0
  if use_keys then
    counters = parse_counters(use_keys, A, 17)
    if not forced then
      local over
      over, would = check_counters(counters, amount, true)
      if over then return finish(k_idem, ttl, op, ref, {over, 0, S_NONE, ua, ub, da, db, would}) end
    end
  end
  if not forced then
    -- Deposit first, then user: the reason names the first balance that falls short. The amounts
    -- in the answer are those the decision was taken on.
    if k_dep and da < amount then
      -- With field 13 = '1' the caller will move deposit funds into this tranche and try again
      -- with the same idempotency key, so this answer is not recorded.
      local res = {C_INSUFFICIENT_DEPOSIT, 0, S_NONE, ua, ub, da, db, would}
      if A[13] == '1' then return res end
      return finish(k_idem, ttl, op, ref, res)
    end
    if ua < total and not user_unchecked then
      return finish(k_idem, ttl, op, ref, {C_INSUFFICIENT_FUNDS, 0, S_NONE, ua, ub, da, db, would})
    end
  end

  -- Writes.
  local vu = nil
  if counters then vu = count_counters(counters, amount, true, '') end
  local p = {}
  local uacct = 'U:' .. balance_id
  local dacct = 'P:' .. deposit_id .. ':' .. string.sub(k_user, 2, string.find(k_user, '}', 1, true) - 1)
  local kacct = 'W:income'
  if company_id ~= '' then
    kacct = 'P:' .. company_id .. ':' .. string.sub(k_user, 2, string.find(k_user, '}', 1, true) - 1) .. ':a'
  end
  local status
  -- Fields left out of the transaction hash read as 0 / '' (see ledger/keys.ts).
  local fields = {'a', d(amount), 'cur', cur, 'e', expires_at, 't', now}
  local neg = (forced or user_unchecked) and ua < total
  if mode == 'H' then
    status = S_AUTHORIZED
    ua = ua - total
    ub = ub + total
    if neg then
      redis.call('HSET', k_user, 'a', d(ua), 'b', d(ub), 'neg', '1')
    else
      redis.call('HSET', k_user, 'a', d(ua), 'b', d(ub))
    end
    posting(p, uacct .. ':a', uacct .. ':b', total, 'HOLD')
    fields[#fields + 1] = 'h'; fields[#fields + 1] = d(amount)
    if fee + fx > 0 then fields[#fields + 1] = 'fh'; fields[#fields + 1] = d(fee + fx) end
    if k_dep then
      da = da - amount
      db = db + amount
      redis.call('HSET', k_dep, 'a', d(da), 'b', d(db))
      posting(p, dacct .. ':a', dacct .. ':b', amount, 'HOLD')
      fields[#fields + 1] = 'db'; fields[#fields + 1] = d(amount)
    end
    redis.call('ZADD', k_exp, expires_at, balance_id .. '|' .. tx_id)
  else
    status = S_CLEARED
    ua = ua - total
    if neg then redis.call('HSET', k_user, 'a', d(ua), 'neg', '1') else redis.call('HSET', k_user, 'a', d(ua)) end
    posting(p, uacct .. ':a', 'W:scheme', amount, 'POST')
    redis.call('HINCRBY', k_world, cur .. ':W:scheme', d(amount))
    posting(p, uacct .. ':a', kacct, fee, 'FEE')
    posting(p, uacct .. ':a', kacct, fx, 'FX')
    if fee + fx > 0 then
      if company_id ~= '' then
        redis.call('HINCRBY', k_company, 'a', d(fee + fx))
      else
        redis.call('HINCRBY', k_world, cur .. ':W:income', d(fee + fx))
      end
    end
    if k_dep then
      da = redis.call('HINCRBY', k_dep, 'a', d(-amount))
      posting(p, dacct .. ':a', 'W:deposit', amount, 'POST')
      redis.call('HINCRBY', k_world, cur .. ':W:deposit', d(amount))
    end
    fields[#fields + 1] = 'c'; fields[#fields + 1] = d(amount)
    fields[#fields + 1] = 'ty'; fields[#fields + 1] = 'POST'
  end
  fields[#fields + 1] = 's'; fields[#fields + 1] = status
  if fee > 0 then fields[#fields + 1] = 'f'; fields[#fields + 1] = d(fee) end
  if fx > 0 then fields[#fields + 1] = 'x'; fields[#fields + 1] = d(fx) end
  if k_dep then fields[#fields + 1] = 'dp'; fields[#fields + 1] = deposit_id end
  if company_id ~= '' then fields[#fields + 1] = 'kp'; fields[#fields + 1] = company_id end
  if forced then fields[#fields + 1] = 'fc'; fields[#fields + 1] = '1' end
  -- What the counters counted, for a reversal to give back (includes/counters.lua, `vu`).
  if vu then fields[#fields + 1] = 'vu'; fields[#fields + 1] = vu end
  for i = m0, m1, 2 do
    fields[#fields + 1] = 'm:' .. meta[i]
    fields[#fields + 1] = meta[i + 1]
  end
  local res = {C_OK, 0, status, ua, ub, da, db, would}
  if by_tx then
    fields[#fields + 1] = 'io'; fields[#fields + 1] = op
    fields[#fields + 1] = 'ir'; fields[#fields + 1] = result_csv(res)
  end
  redis.call('HSET', k_tx, unpack(fields))
  if k_hist ~= k_tx then redis.call('LPUSH', k_hist, tx_id) end
  journal(k_jnl, op, balance_id, tx_id, cur, now, p, status)
  return finish(k_idem, ttl, op, ref, res)
end
