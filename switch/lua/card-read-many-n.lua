-- Reads the card records of one batch in one call (single Redis only: card keys carry no shared
-- hash tag, so on a Cluster each card is read with its own HGETALL).
-- KEYS: card:pan:<index> of each card asked for.
-- Returns one flat field, value list per key (empty where there is no card), in KEYS order.
local out = {}
for i = 1, #KEYS do out[i] = redis.call('HGETALL', KEYS[i]) end
return out
