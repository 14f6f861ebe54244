-- Records one outbound call that can not be refused (adapters/outbox.ts enqueue). Idempotent: an
-- entry already recorded under this id (pending, dead, or sent and still kept) is left as it is.
-- KEYS[1] entry hash  KEYS[2] due zset (id -> due ms)  KEYS[3] pending index  KEYS[4] attempts histogram
-- ARGV[1] id  ARGV[2] kind  ARGV[3] configId  ARGV[4] method  ARGV[5] path  ARGV[6] body (JSON)
-- ARGV[7] idempotency key  ARGV[8] max attempts (0: unbounded)  ARGV[9] created ms  ARGV[10] due ms
-- ARGV[11] max pending entries in this group
-- Returns {code, state}: 1 recorded; 0 already recorded (state of the existing entry);
-- -1 the group holds max pending entries already; -2 the id is recorded with another method, path or body
--- @include outbox-common
local state = redis.call('HGET', KEYS[1], 's')
if state then
  local cur = redis.call('HMGET', KEYS[1], 'm', 'p', 'b')
  if cur[1] ~= ARGV[4] or cur[2] ~= ARGV[5] or cur[3] ~= ARGV[6] then return {-2, state} end
  return {0, state}
end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[11]) then return {-1, ''} end

redis.call('HSET', KEYS[1], 'id', ARGV[1], 'kind', ARGV[2], 'cfg', ARGV[3], 'm', ARGV[4], 'p', ARGV[5], 'b', ARGV[6],
  'k', ARGV[7], 'max', ARGV[8], 'c', ARGV[9], 'n', '0', 's', 'pending', 'd', ARGV[10])
redis.call('ZADD', KEYS[2], ARGV[10], ARGV[1])
redis.call('ZADD', KEYS[3], 0, index_member(ARGV[9], ARGV[1]))
histogram_add(KEYS[4], 0, 1)
return {1, 'pending'}
