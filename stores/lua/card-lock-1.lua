-- Card store script (stores/cards.ts). KEYS[1] is the card record hash.
-- KEYS: record. ARGV: code, irreversible set ",1,2,5,8,".
-- Returns 1 locked, 0 already locked with this code, -1 no card, -2 an irreversible lock is in place.
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local cur = redis.call('HGET', KEYS[1], 'lk') or '0'
if cur == ARGV[1] then return 0 end
if string.find(ARGV[2], ',' .. cur .. ',', 1, true) then return -2 end
redis.call('HSET', KEYS[1], 'lk', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'v', 1)
return 1
