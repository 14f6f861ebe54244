-- Closes a tranche transfer on its source side once the destination has received it.
-- KEYS[1] transfer record hash  KEYS[2] open transfers set
-- ARGV[1] transferId
-- Returns 1 when closed now, 0 when already closed or unknown.
if redis.call('HGET', KEYS[1], 'st') ~= 'SENT' then return 0 end
redis.call('HSET', KEYS[1], 'st', 'DONE')
redis.call('SREM', KEYS[2], ARGV[1])
return 1
