-- Card store script (stores/cards.ts). KEYS[1] is the card record hash.
-- KEYS: record. ARGV: lock version, blocked (0/1). Returns 1 written, 0 no card or a newer version is there.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local dv = tonumber(redis.call('HGET', KEYS[1], 'dv') or '-1')
if tonumber(ARGV[1]) < dv then return 0 end
redis.call('HSET', KEYS[1], 'db', ARGV[2], 'dv', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'v', 1)
return 1
