-- Card store script (stores/cards.ts). KEYS[1] is the card record hash.
-- Sets one field of an existing card record (its limits, its spend controls) and counts the
-- record's version `v` up in the same step, so that a card remembered by a deciding thread is read
-- again before the next authorization (stores/cards.ts, "remembered cards"). A missing record is
-- not created.
-- KEYS: record. ARGV: field name, value. Returns 1 written, 0 no such card.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[1], 'v', 1)
return 1
