-- Moves a dead entry back to pending (adapters/outbox.ts retry): due now, attempts reset to 0,
-- the same idempotency key. The last status and error are kept for inspection.
-- KEYS[1] entry hash  KEYS[2] due zset  KEYS[3] pending index  KEYS[4] dead index  KEYS[5] attempts histogram
-- ARGV[1] id  ARGV[2] now ms
-- Returns {1, 'pending'} moved back; {0, state} the entry is not dead; {-1, ''} no such entry
--- @include outbox-common
local e = redis.call('HMGET', KEYS[1], 's', 'c', 'dt')
if not e[1] then return {-1, ''} end
if e[1] ~= 'dead' then return {0, e[1]} end

redis.call('ZREM', KEYS[4], index_member(e[3], ARGV[1]))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], 0, index_member(e[2], ARGV[1]))
histogram_add(KEYS[5], 0, 1)
redis.call('HSET', KEYS[1], 's', 'pending', 'n', '0', 'd', ARGV[2])
redis.call('HDEL', KEYS[1], 'dt', 'dr', 'lt', 'lu')
return {1, 'pending'}
