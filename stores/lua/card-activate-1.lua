-- Card store script (stores/cards.ts). KEYS[1] is the card record hash.
-- KEYS: record. Returns 1 activated, -1 no card, -3 not a physical card, -4 already active.
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HGET', KEYS[1], 'kd') ~= 'PHYSICAL' then return -3 end
if redis.call('HGET', KEYS[1], 'st') == 'ACTIVE' then return -4 end
redis.call('HSET', KEYS[1], 'st', 'ACTIVE')
redis.call('HINCRBY', KEYS[1], 'v', 1)
return 1
