-- Card store script (stores/cards.ts). KEYS[1] is the card record hash.
-- KEYS: record. ARGV: replace ('1' | '0'), field, value, ... Returns 1 written, 0 the PAN exists
-- and replace is '0' (a PAN collision when issuing).
-- Field v, the record's version, starts at 1 and goes on counting across a replacement: a
-- remembered copy of the replaced record must not pass a hold's guard (stores/cards.ts).
local v = 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  if ARGV[1] ~= '1' then return 0 end
  v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0') or 0
  redis.call('DEL', KEYS[1])
end
redis.call('HSET', KEYS[1], 'v', v + 1, unpack(ARGV, 2))
return 1
