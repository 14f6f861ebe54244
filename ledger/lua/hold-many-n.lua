-- Several holds / single-message debits of one slot group in one call (a batch of authorizations
-- decided together): each is exactly hold-deposit-then-user-13 (or hold-user-12 without a deposit),
-- checked and written on its own, in order; one's decline does not affect the others.
-- Called with a variable number of keys: thirteen per hold, as hold-deposit-then-user-13's KEYS; a
-- hold without a deposit passes its transaction key in place of the deposit tranche.
-- ARGV per hold, in the same order: the packed fixed arguments (as hold-deposit-then-user-13's
-- ARGV[1]), '1' when it has a deposit else '0', the number of meta values n, then n meta values
-- (name, value pairs).
-- Returns one result vector per hold, as hold-deposit-then-user-13 returns.
--- @include common
--- @include hold-body
local out = {}
local a = 1
for h = 0, #KEYS / 13 - 1 do
  local k = h * 13
  local packed = ARGV[a]
  local dep = nil
  if ARGV[a + 1] == '1' then dep = KEYS[k + 4] end
  local n = tonumber(ARGV[a + 2])
  out[#out + 1] = hold(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], dep, KEYS[k + 5], KEYS[k + 6], KEYS[k + 7], KEYS[k + 8], KEYS[k + 9], KEYS[k + 10], KEYS[k + 11], KEYS[k + 12], KEYS[k + 13],
    packed, ARGV, a + 3, a + 2 + n)
  a = a + 3 + n
end
return out
