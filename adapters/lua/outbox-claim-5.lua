-- Claims one due entry for sending (adapters/outbox.ts): counts the attempt and takes a lease by
-- moving the entry's score in the due zset to the lease's end, so that no other sender sees it
-- due until the lease has run out (a sender that died mid-send leaves it claimable again then).
-- An entry whose attempts are used up (its last sender died mid-send) goes to the dead letters.
-- KEYS[1] entry hash  KEYS[2] due zset  KEYS[3] pending index  KEYS[4] dead index  KEYS[5] attempts histogram
-- ARGV[1] id  ARGV[2] now ms  ARGV[3] lease end ms  ARGV[4] lease token
-- Returns {1, field, value, ...} claimed (the entry's fields after the claim); {0} not due (or
-- claimed by another sender meanwhile); {-1} moved to the dead letters (no attempt left)
--- @include outbox-common
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then return {0} end
local e = redis.call('HMGET', KEYS[1], 's', 'n', 'max', 'c')
if e[1] ~= 'pending' then return {0} end
local n = tonumber(e[2])
local max = tonumber(e[3])

if max > 0 and n >= max then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], index_member(e[4], ARGV[1]))
  redis.call('ZADD', KEYS[4], 0, index_member(ARGV[2], ARGV[1]))
  histogram_add(KEYS[5], n, -1)
  redis.call('HSET', KEYS[1], 's', 'dead', 'dt', ARGV[2], 'dr', 'MAX_ATTEMPTS')
  redis.call('HDEL', KEYS[1], 'lt', 'lu')
  return {-1}
end

redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[1], 'n', tostring(n + 1), 'lt', ARGV[4], 'lu', ARGV[3], 'la', ARGV[2])
histogram_move(KEYS[5], n, n + 1)
local out = {1}
for _, v in ipairs(redis.call('HGETALL', KEYS[1])) do out[#out + 1] = v end
return out
