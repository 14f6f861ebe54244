-- Card store script (stores/cards.ts). KEYS[1] is the card record hash.
-- Reset CVV: the card's CVV2 generation moves from the one the new CVV2 was chosen against to the
-- next, so the old CVV2 declines from the very next authorization (v counts up).
-- KEYS: record. ARGV: card id, expected current generation, new generation.
-- Returns 1 set, 0 the generation changed meanwhile (a concurrent reset: choose again), -1 no such card.
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return -1 end
if (redis.call('HGET', KEYS[1], 'cg') or '0') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'cg', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'v', 1)
return 1
