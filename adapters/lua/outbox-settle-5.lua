-- Records the outcome of one attempt (adapters/outbox.ts), only for the sender that still holds
-- the entry's lease: a sender whose lease ran out (and may have been taken over) changes nothing.
-- 'ok': the entry is done; it is kept as 'sent' for the retention time (so that enqueueing the
-- same id again is still a no-op) and then expires. 'reject', or 'retry' with no attempt left:
-- the entry goes to the dead letters. 'retry' otherwise: it is due again at ARGV[5].
-- KEYS[1] entry hash  KEYS[2] due zset  KEYS[3] pending index  KEYS[4] dead index  KEYS[5] attempts histogram
-- ARGV[1] id  ARGV[2] lease token  ARGV[3] outcome ok|retry|reject  ARGV[4] now ms  ARGV[5] next due ms
-- ARGV[6] HTTP status ('' when none)  ARGV[7] error text ('' when none)  ARGV[8] sent retention ms
-- Returns 1 sent, 2 moved to the dead letters, 3 rescheduled, -1 the lease is no longer this sender's
--- @include outbox-common
local e = redis.call('HMGET', KEYS[1], 's', 'lt', 'n', 'max', 'c')
if e[1] ~= 'pending' or e[2] ~= ARGV[2] then return -1 end
local n = tonumber(e[3])
local max = tonumber(e[4])
local outcome = ARGV[3]

if outcome == 'ok' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], index_member(e[5], ARGV[1]))
  histogram_add(KEYS[5], n, -1)
  redis.call('HSET', KEYS[1], 's', 'sent', 'st', ARGV[4], 'ls', ARGV[6])
  redis.call('HDEL', KEYS[1], 'lt', 'lu', 'le')
  redis.call('PEXPIRE', KEYS[1], ARGV[8])
  return 1
end

if outcome == 'reject' or (max > 0 and n >= max) then
  local reason = 'MAX_ATTEMPTS'
  if outcome == 'reject' then reason = 'REJECTED' end
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], index_member(e[5], ARGV[1]))
  redis.call('ZADD', KEYS[4], 0, index_member(ARGV[4], ARGV[1]))
  histogram_add(KEYS[5], n, -1)
  redis.call('HSET', KEYS[1], 's', 'dead', 'dt', ARGV[4], 'dr', reason, 'ls', ARGV[6], 'le', ARGV[7])
  redis.call('HDEL', KEYS[1], 'lt', 'lu')
  return 2
end

redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
redis.call('HSET', KEYS[1], 'd', ARGV[5], 'ls', ARGV[6], 'le', ARGV[7])
redis.call('HDEL', KEYS[1], 'lt', 'lu')
return 3
