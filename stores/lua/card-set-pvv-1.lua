-- Card store script (stores/cards.ts). KEYS[1] is the card record hash.
-- Set PIN: the card's PVV and its PVKI replace the old ones and the PIN-failure count starts again.
-- A lock (6 after three wrong PINs included) is left as it is: removing it is the unlock call's.
-- KEYS: record. ARGV: card id, PVKI, PVV. Returns 1 set, -1 no such card.
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return -1 end
redis.call('HSET', KEYS[1], 'pk', ARGV[2], 'pv', ARGV[3], 'pf', 0)
redis.call('HINCRBY', KEYS[1], 'v', 1)
return 1
