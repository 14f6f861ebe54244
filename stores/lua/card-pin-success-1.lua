-- Card store script (stores/cards.ts). KEYS[1] is the card record hash.
-- KEYS: record. Returns 1 reset, 0 nothing to reset or no card.
local pf = redis.call('HGET', KEYS[1], 'pf')
if pf == false or pf == '0' then return 0 end
redis.call('HSET', KEYS[1], 'pf', 0)
return 1
