-- Creates a record (a partner balance head or one of its tranches) unless it exists.
-- KEYS[1] record hash
-- ARGV[1..] field, value pairs
-- Returns 1 when created, 0 when it already existed (left unchanged).
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
