-- Card store script (stores/cards.ts). KEYS[1] is the card record hash.
-- KEYS: record. ARGV: irreversible set. Returns 1 unlocked, 0 was not locked, -1 no card, -2 irreversible.
-- Unlocking also forgets PIN failures, so the cardholder gets fresh tries.
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local cur = redis.call('HGET', KEYS[1], 'lk') or '0'
if cur == '0' then return 0 end
if string.find(ARGV[1], ',' .. cur .. ',', 1, true) then return -2 end
redis.call('HSET', KEYS[1], 'lk', 0, 'pf', 0)
redis.call('HINCRBY', KEYS[1], 'v', 1)
return 1
