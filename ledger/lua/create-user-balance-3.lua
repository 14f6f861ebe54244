-- Creates a user balance (available 0, blocked 0) in the slot of its group.
-- KEYS[1] idempotency record (ignored when ARGV[7] = '0')  KEYS[2] user balance hash
-- KEYS[3] customer's balance index (set)
-- ARGV[1] balanceId  ARGV[2] customerId  ARGV[3] currency  ARGV[4] configId  ARGV[5] nowMs
-- ARGV[6] idempotency TTL ms  ARGV[7] use idempotency record 1|0
-- Returns {replay 0|1, balanceId}: on replay, the id created the first time.
if ARGV[7] == '1' then
  local prior = redis.call('GET', KEYS[1])
  if prior then return {1, prior} end
end
if redis.call('EXISTS', KEYS[2]) == 1 then return redis.error_reply('LEDGER_ERR_BALANCE_EXISTS') end
redis.call('HSET', KEYS[2], 'a', '0', 'b', '0', 'cur', ARGV[3], 'cust', ARGV[2], 'cfg', ARGV[4], 't', ARGV[5])
redis.call('SADD', KEYS[3], ARGV[1])
if ARGV[7] == '1' then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[6]) end
return {0, ARGV[1]}
