-- Body shared by hold-deposit-then-user-9 and hold-user-8 (see their headers for KEYS/ARGV).
local function hold(k_idem, k_tx, k_user, k_dep, k_company, k_jnl, k_exp, k_hist, k_world)
  local mode = ARGV[1]
  local forced = ARGV[2] == '1'
  local amount = tonumber(ARGV[3])
  local fee = tonumber(ARGV[4])
  local fx = tonumber(ARGV[5])
  local expires_at = ARGV[6]
  local now = ARGV[7]
  local balance_id = ARGV[9]
  local tx_id = ARGV[10]
  local deposit_id = ARGV[11]
  local company_id = ARGV[12]
  local op = 'hold' .. mode

  local prior = replayed(k_idem, op, balance_id .. '/' .. tx_id)
  if prior then return prior end
  local ttl = ARGV[8]
  local ref = balance_id .. '/' .. tx_id

  -- Every check comes before the first write: Redis does not roll a script back.
  local u = redis.call('HMGET', k_user, 'a', 'b', 'cur')
  if not u[1] then return finish(k_idem, ttl, op, ref, {C_BALANCE_NOT_FOUND, 0, S_NONE, 0, 0, 0, 0, 0}) end
  local ua = tonumber(u[1])
  local ub = tonumber(u[2])
  local cur = u[3]
  if redis.call('EXISTS', k_tx) == 1 then
    return {C_TX_EXISTS, 0, S_NONE, ua, ub, 0, 0, 0}
  end
  local da, db = 0, 0
  if k_dep then
    local dv = redis.call('HMGET', k_dep, 'a', 'b', 'cur')
    if not dv[1] then return finish(k_idem, ttl, op, ref, {C_DEPOSIT_NOT_FOUND, 0, S_NONE, ua, ub, 0, 0, 0}) end
    if dv[3] ~= cur then return finish(k_idem, ttl, op, ref, {C_CURRENCY_MISMATCH, 0, S_NONE, ua, ub, 0, 0, 0}) end
    da = tonumber(dv[1])
    db = tonumber(dv[2])
  end
  if company_id ~= '' then
    local kc = redis.call('HGET', k_company, 'cur')
    if not kc then return finish(k_idem, ttl, op, ref, {C_COMPANY_NOT_FOUND, 0, S_NONE, ua, ub, da, db, 0}) end
    if kc ~= cur then return finish(k_idem, ttl, op, ref, {C_CURRENCY_MISMATCH, 0, S_NONE, ua, ub, da, db, 0}) end
  end
  local total = amount + fee + fx
  if not forced then
    -- Deposit first, then user: the reason names the first balance that falls short. The amounts
    -- in the answer are those the decision was taken on.
    if k_dep and da < amount then
      -- With ARGV[13] = '1' the caller will move deposit funds into this tranche and try again
      -- with the same idempotency key, so this answer is not recorded.
      local res = {C_INSUFFICIENT_DEPOSIT, 0, S_NONE, ua, ub, da, db, 0}
      if ARGV[13] == '1' then return res end
      return finish(k_idem, ttl, op, ref, res)
    end
    if ua < total then
      return finish(k_idem, ttl, op, ref, {C_INSUFFICIENT_FUNDS, 0, S_NONE, ua, ub, da, db, 0})
    end
  end

  -- Writes.
  local p = {}
  local uacct = 'U:' .. balance_id
  local dacct = 'P:' .. deposit_id .. ':' .. string.sub(k_user, 2, string.find(k_user, '}', 1, true) - 1)
  local kacct = 'W:income'
  if company_id ~= '' then
    kacct = 'P:' .. company_id .. ':' .. string.sub(k_user, 2, string.find(k_user, '}', 1, true) - 1) .. ':a'
  end
  local status
  if mode == 'H' then
    status = S_AUTHORIZED
    ua = redis.call('HINCRBY', k_user, 'a', d(-total))
    ub = redis.call('HINCRBY', k_user, 'b', d(total))
    posting(p, uacct .. ':a', uacct .. ':b', total, 'HOLD')
    if k_dep then
      da = redis.call('HINCRBY', k_dep, 'a', d(-amount))
      db = redis.call('HINCRBY', k_dep, 'b', d(amount))
      posting(p, dacct .. ':a', dacct .. ':b', amount, 'HOLD')
    end
    redis.call('ZADD', k_exp, expires_at, balance_id .. '|' .. tx_id)
  else
    status = S_CLEARED
    ua = redis.call('HINCRBY', k_user, 'a', d(-total))
    posting(p, uacct .. ':a', 'W:scheme', amount, 'POST')
    redis.call('HINCRBY', k_world, cur .. ':W:scheme', d(amount))
    posting(p, uacct .. ':a', kacct, fee, 'FEE')
    posting(p, uacct .. ':a', kacct, fx, 'FX')
    if company_id ~= '' then
      redis.call('HINCRBY', k_company, 'a', d(fee + fx))
    else
      redis.call('HINCRBY', k_world, cur .. ':W:income', d(fee + fx))
    end
    if k_dep then
      da = redis.call('HINCRBY', k_dep, 'a', d(-amount))
      posting(p, dacct .. ':a', 'W:deposit', amount, 'POST')
      redis.call('HINCRBY', k_world, cur .. ':W:deposit', d(amount))
    end
  end
  if forced and ua < 0 then redis.call('HSET', k_user, 'neg', '1') end
  local held = 0
  local dheld = 0
  local cleared = amount
  if mode == 'H' then held = amount; cleared = 0; if k_dep then dheld = amount end end
  local fields = {'s', status, 'a', d(amount), 'h', d(held), 'f', d(fee), 'x', d(fx), 'db', d(dheld),
    'c', d(cleared), 'cur', cur, 'u', balance_id, 'dp', deposit_id, 'kp', company_id,
    'e', expires_at, 't', now, 'r', '0', 'fc', forced and '1' or '0',
    'fh', mode == 'H' and d(fee + fx) or '0', 'ty', mode == 'H' and 'HOLD' or 'POST'}
  if k_dep then fields[#fields + 1] = 'dk'; fields[#fields + 1] = k_dep end
  if company_id ~= '' then fields[#fields + 1] = 'kk'; fields[#fields + 1] = k_company end
  for i = 14, #ARGV, 2 do
    fields[#fields + 1] = 'm:' .. ARGV[i]
    fields[#fields + 1] = ARGV[i + 1]
  end
  redis.call('HSET', k_tx, unpack(fields))
  redis.call('LPUSH', k_hist, tx_id)
  journal(k_jnl, op, balance_id, tx_id, cur, now, p)
  return finish(k_idem, ttl, op, ref, {C_OK, 0, status, ua, ub, da, db, 0})
end
