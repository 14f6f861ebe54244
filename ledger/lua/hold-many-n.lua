-- Several holds / single-message debits of one slot group in one call (a batch of authorizations
-- decided together): each is exactly hold-deposit-then-user-12 (or hold-user-11 without a deposit),
-- checked and written on its own, in order; one's decline does not affect the others. A hold with
-- velocity counters (HoldArgs.counters) always comes through here, even alone.
-- Called with a variable number of keys: twelve per hold, as hold-deposit-then-user-12's KEYS (a
-- hold without a deposit passes its transaction key in place of the deposit tranche), then the
-- card's usage hashes its counters count in (u of them, see ARGV), then eight more for a hold that
-- carries its record (HoldArgs.record: write_record's K, includes/record-write.lua).
-- ARGV per hold, in the same order: the packed fixed arguments (as hold-deposit-then-user-12's
-- ARGV[1], with the counter blocks from field 17), '1' when it has a deposit else '0', the number
-- of usage hashes u, the number of meta values n, n meta values (name, value pairs), then the
-- record: '0' for none; else '=' (its cached answer stored as given) or 'N' (the cached answer
-- followed by `|<available>|<blocked>`: the user balance after the hold, for the caller to render
-- on a replay), then write_record's seven A values.
-- Returns one result vector per hold, as hold-deposit-then-user-12 returns; a hold that carries a
-- record has a ninth value: 1 when the record was written (an approval, not a replay, and no
-- SHADOW counter would have declined it: the caller then writes the record with wouldDecline), else 0.
--- @include common
--- @include counters
--- @include hold-body
--- @include record-write

local out = {}
local a = 1
local k = 0
while a <= #ARGV do
  local packed = ARGV[a]
  local dep = nil
  if ARGV[a + 1] == '1' then dep = KEYS[k + 4] end
  local u = tonumber(ARGV[a + 2])
  local use_keys = nil
  if u > 0 then
    use_keys = {}
    for i = 1, u do use_keys[i] = KEYS[k + 12 + i] end
  end
  local n = tonumber(ARGV[a + 3])
  local r = hold(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], dep, KEYS[k + 5], KEYS[k + 6], KEYS[k + 7], KEYS[k + 8], KEYS[k + 9], use_keys, KEYS[k + 10], KEYS[k + 11], KEYS[k + 12],
    packed, ARGV, a + 4, a + 3 + n)
  local spec = ARGV[a + 4 + n]
  a = a + 5 + n
  k = k + 12 + u
  if spec ~= '0' then
    r[9] = 0
    if r[1] == C_OK and r[2] == 0 and r[8] == 0 then
      local answer = ARGV[a + 3]
      if spec == 'N' then answer = answer .. '|' .. d(r[4]) .. '|' .. d(r[5]) end
      r[9] = write_record(KEYS, k, ARGV, a - 1, answer, nil)
    end
    k = k + 8
    a = a + 7
  end
  out[#out + 1] = r
end
return out
