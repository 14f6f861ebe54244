-- Writes of releasing an open hold, shared by release-hold-6 (reversal, expiry) and
-- reverse-transaction-10 (reversal of an open hold). Every check is the caller's, before this.
-- h: the hold as read {amount, held, fees_held, dep_held}. full: everything it still holds goes
-- back (fees included), the record gets closed_status and leaves the expiry index; else the part
-- of the amount above new_amount goes back and the fees stay held. k_dep: the deposit tranche the
-- hold was taken on ('' without one), dacct its journal account. mark: a reversal (not an expiry):
-- the record gets r = 1, rk = R (released) and rv += the amount part released.
-- Appends the postings to p; returns userReleased (fees included), depositReleased,
-- userAvailable, userBlocked, amount after.
local function release_hold(k_tx, k_user, k_exp, member, k_dep, dacct, uacct, h, full, new_amount, closed_status, code, mark, p)
  local u_rel, d_rel, principal
  local amount = h.amount
  if full then
    principal = h.held
    u_rel = h.held + h.fees_held
    d_rel = h.dep_held
    redis.call('HSET', k_tx, 's', closed_status, 'h', '0', 'fh', '0', 'db', '0')
    redis.call('ZREM', k_exp, member)
  else
    local delta = amount - new_amount
    u_rel = math.min(delta, h.held)
    principal = u_rel
    d_rel = math.min(delta, h.dep_held)
    redis.call('HSET', k_tx, 'a', d(new_amount), 'h', d(h.held - u_rel), 'db', d(h.dep_held - d_rel))
    amount = new_amount
  end
  if mark then
    redis.call('HSET', k_tx, 'r', '1', 'rk', 'R')
    redis.call('HINCRBY', k_tx, 'rv', d(principal))
  end
  local ua = redis.call('HINCRBY', k_user, 'a', d(u_rel))
  local ub = redis.call('HINCRBY', k_user, 'b', d(-u_rel))
  posting(p, uacct .. ':b', uacct .. ':a', u_rel, code)
  if k_dep ~= '' and d_rel > 0 then
    redis.call('HINCRBY', k_dep, 'a', d(d_rel))
    redis.call('HINCRBY', k_dep, 'b', d(-d_rel))
    posting(p, dacct .. ':b', dacct .. ':a', d_rel, code)
  end
  return u_rel, d_rel, ua, ub, amount
end
