-- The Redis ceiling of `npm run bench:switch`: a complete but minimal deposit-then-user hold, run
-- by redis-benchmark (EVALSHA) against the same AOF `appendfsync always` server shape the switch
-- uses. It does what every approved 0100 must do in Redis and nothing else: no fees, limits,
-- history list, records or meta fields. The switch's real script (ledger/lua/hold-deposit-then-
-- user-10.lua) does more, so this is an upper bound on approvals per second, not a twin.
-- KEYS[1] idempotency record (string)   KEYS[2] transaction hash   KEYS[3] user balance hash
-- KEYS[4] deposit tranche hash          KEYS[5] journal stream     KEYS[6] expiry index (zset)
-- Every key shares one hash tag.
-- ARGV[1] amount (minor units)  ARGV[2] txId  ARGV[3] expiresAtMs  ARGV[4] nowMs  ARGV[5] idempotency TTL ms
-- Returns 1 held, 2 replay (the idempotency record exists), 0 declined (either balance short).
if redis.call('EXISTS', KEYS[1]) == 1 then return 2 end
local amount = tonumber(ARGV[1])
local user = redis.call('HMGET', KEYS[3], 'a', 'b')
local deposit = redis.call('HMGET', KEYS[4], 'a', 'b')
local userAvailable = tonumber(user[1] or '0')
local depositAvailable = tonumber(deposit[1] or '0')
-- Every check before the first write: Redis does not roll a script back.
if userAvailable < amount or depositAvailable < amount then return 0 end
redis.call('HSET', KEYS[4], 'a', depositAvailable - amount, 'b', tonumber(deposit[2] or '0') + amount)
redis.call('HSET', KEYS[3], 'a', userAvailable - amount, 'b', tonumber(user[2] or '0') + amount)
redis.call('HSET', KEYS[2], 's', 'A', 'a', amount, 'h', amount, 'db', amount, 'e', ARGV[3], 't', ARGV[4])
redis.call('XADD', KEYS[5], '*', 'op', 'H', 'tx', ARGV[2], 'a', amount)
redis.call('ZADD', KEYS[6], ARGV[3], ARGV[2])
redis.call('SET', KEYS[1], '1', 'PX', ARGV[5])
return 1
