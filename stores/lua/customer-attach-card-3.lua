-- Customer store script (stores/customers.ts).
-- KEYS: hash, locks, cards. ARGV: cardId, requireKyc ('1' | '0'), maxCards.
-- Returns {-1} no such customer, {-2} KYC not SUCCESS, {-3} too many cards, else {lockVersion, lockCount}.
-- Without requireKyc (seeding) a customer that does not exist is attached to at lock version 0.
local exists = redis.call('EXISTS', KEYS[1]) == 1
if ARGV[2] == '1' then
  if not exists then return {-1} end
  if redis.call('HGET', KEYS[1], 'kyc') ~= 'SUCCESS' then return {-2} end
end
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 0 and redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[3]) then return {-3} end
redis.call('SADD', KEYS[3], ARGV[1])
local lv = 0
if exists then lv = tonumber(redis.call('HGET', KEYS[1], 'lv') or '0') end
return {lv, redis.call('SCARD', KEYS[2])}
