-- Card store script (stores/cards.ts). KEYS[1] is the card record hash.
-- A wrong PIN or CVV2 found by the authorization path (cardauth/run.ts), counted exactly under
-- concurrency: each call is one step of the count, and the call that reaches the limit locks the card.
-- KEYS: record. ARGV: card id, counter field ('pf' PIN | 'c2' CVV2), limit, lock code to set at the
-- limit, premise field ('pv' PVV | 'cg' CVV2 generation), premise value (what the check was made against),
-- the premise field's value when the record has none ('' for a PVV, '0' for a generation).
-- Returns {code, n}: {1, failures} counted; {2, lock} counted and the card locked now; {3, lock}
-- the card was locked already (nothing counted: the lock decides); {0, 0} the card changed under the
-- check (another id, a new PVV or CVV2 generation) or is gone: nothing written, decide again.
-- Every count counts up the record's version v: a deciding thread's remembered copy of the card is
-- read again before its next decision (stores/cards.ts, "Record version").
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return {0, 0} end
local lk = redis.call('HGET', KEYS[1], 'lk') or '0'
if lk ~= '0' then return {3, tonumber(lk)} end
if (redis.call('HGET', KEYS[1], ARGV[5]) or ARGV[7]) ~= ARGV[6] then return {0, 0} end
local n = redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
redis.call('HINCRBY', KEYS[1], 'v', 1)
if n >= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'lk', ARGV[4])
  return {2, tonumber(ARGV[4])}
end
return {1, n}
