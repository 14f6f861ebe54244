-- The `prototype` placement of `npm run bench:switch`: one approved 0100 written the way the
-- redesign in docs/architecture.md ("What is next on the hot path", item 1) would write it, with
-- the real sizes, so that its cost in Redis time and AOF bytes can be measured before it is built.
-- Not the product's script: the switch does not call it.
--   * the transaction hash is also the record (its JSON), the idempotency record (a repeat finds
--     the hash) and the cached answer (its bytes): one hash instead of four keys;
--   * the history list and the records' balance index are left to the journal stream;
--   * the card is guarded on one version field instead of nine;
--   * a repeat's lookup by its duplicate key finds the transaction through a small pointer.
-- The reference indexes (field 37, field 90) are kept, as the switch writes them: one
-- SET … PX … NX each (stores/lua/record-write-many-n.lua).
-- KEYS[1] transaction hash   KEYS[2] user balance hash   KEYS[3] deposit tranche hash
-- KEYS[4] journal stream     KEYS[5] expiry index (zset) KEYS[6] card hash (version field v)
-- KEYS[7] duplicate-key pointer (string)  KEYS[8] retrieval-reference index (string)
-- KEYS[9] original-identity index (string)   (every key shares one hash tag)
-- ARGV[1] amount  ARGV[2] balanceId  ARGV[3] txId  ARGV[4] expiresAtMs  ARGV[5] nowMs
-- ARGV[6] record JSON  ARGV[7] cached answer bytes  ARGV[8] card version expected
-- ARGV[9] duplicate window ms  ARGV[10] reference index TTL ms
-- Returns 1 held, 2 repeat (the transaction exists), 0 declined, -1 the card changed.
if redis.call('HGET', KEYS[6], 'v') ~= ARGV[8] then return -1 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 2 end
local amount = tonumber(ARGV[1])
local user = redis.call('HMGET', KEYS[2], 'a', 'b')
local deposit = redis.call('HMGET', KEYS[3], 'a', 'b')
local ua, ub = tonumber(user[1] or '0'), tonumber(user[2] or '0')
local da, db = tonumber(deposit[1] or '0'), tonumber(deposit[2] or '0')
if ua < amount or da < amount then return 0 end
local function d(n) return string.format('%d', n) end
redis.call('HSET', KEYS[3], 'a', d(da - amount), 'b', d(db + amount))
redis.call('HSET', KEYS[2], 'a', d(ua - amount), 'b', d(ub + amount))
redis.call('HSET', KEYS[1], 's', '1', 'a', ARGV[1], 'cur', 'EUR', 'h', ARGV[1], 'db', ARGV[1], 'e', ARGV[4], 't', ARGV[5],
  'rec', ARGV[6], 'ans', ARGV[7])
local u = 'U:' .. ARGV[2]
redis.call('XADD', KEYS[4], '*', 'o', 'holdH', 'b', ARGV[2], 'x', ARGV[3], 'c', 'EUR',
  'p', u .. ':a>' .. u .. ':b>' .. ARGV[1] .. '>HOLD;P:dep:g00:a>P:dep:g00:b>' .. ARGV[1] .. '>HOLD')
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[2] .. '|' .. ARGV[3])
redis.call('SET', KEYS[7], KEYS[1], 'PX', ARGV[9])
redis.call('SET', KEYS[8], ARGV[3], 'PX', ARGV[10], 'NX')
redis.call('SET', KEYS[9], ARGV[3], 'PX', ARGV[10], 'NX')
return 1
