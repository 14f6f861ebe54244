-- Card store script (stores/cards.ts). KEYS[1] is the card record hash.
-- KEYS: record. ARGV: irreversible set. Returns 1 unlocked, 0 was not locked, -1 no card, -2 irreversible.
-- Unlocking also forgets wrong PINs and wrong CVV2s, so the cardholder gets fresh tries; an unlock
-- of an unlocked card clears those counts too (and counts up v only when one was not zero).
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local cur = redis.call('HGET', KEYS[1], 'lk') or '0'
if cur == '0' then
  local pf = redis.call('HGET', KEYS[1], 'pf') or '0'
  local c2 = redis.call('HGET', KEYS[1], 'c2') or '0'
  if pf ~= '0' or c2 ~= '0' then
    redis.call('HSET', KEYS[1], 'pf', 0, 'c2', 0)
    redis.call('HINCRBY', KEYS[1], 'v', 1)
  end
  return 0
end
if string.find(ARGV[1], ',' .. cur .. ',', 1, true) then return -2 end
redis.call('HSET', KEYS[1], 'lk', 0, 'pf', 0, 'c2', 0)
redis.call('HINCRBY', KEYS[1], 'v', 1)
return 1
