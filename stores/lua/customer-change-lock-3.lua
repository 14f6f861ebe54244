-- Customer store script (stores/customers.ts).
-- KEYS: hash, locks, cards. ARGV: 'add' | 'remove' | 'read', reason.
-- Returns {-1} for no such customer, else {lockVersion, lockCount, cardId...}. The version grows
-- only when the set changed, so a repeated add or remove is a no-op that still re-propagates.
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local changed = 0
if ARGV[1] == 'add' then changed = redis.call('SADD', KEYS[2], ARGV[2])
elseif ARGV[1] == 'remove' then changed = redis.call('SREM', KEYS[2], ARGV[2]) end
local lv = tonumber(redis.call('HGET', KEYS[1], 'lv') or '0')
if changed == 1 then lv = redis.call('HINCRBY', KEYS[1], 'lv', 1) end
local out = {lv, redis.call('SCARD', KEYS[2])}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[3])) do out[#out + 1] = id end
return out
