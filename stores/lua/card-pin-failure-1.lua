-- Card store script (stores/cards.ts). KEYS[1] is the card record hash.
-- KEYS: record. ARGV: failure limit, lock code to set. Returns {-1} no card, else {failures, lock}.
-- The lock is set only on an unlocked card: an existing lock (stolen, fraud...) says more.
-- Every count counts up the version v (a count can lock, and a success resets only a count it sees).
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0} end
local n = redis.call('HINCRBY', KEYS[1], 'pf', 1)
redis.call('HINCRBY', KEYS[1], 'v', 1)
local lk = redis.call('HGET', KEYS[1], 'lk') or '0'
if n >= tonumber(ARGV[1]) and lk == '0' then
  redis.call('HSET', KEYS[1], 'lk', ARGV[2])
  lk = ARGV[2]
end
return {n, tonumber(lk)}
