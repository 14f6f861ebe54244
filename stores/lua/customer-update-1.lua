-- Customer store script (stores/customers.ts).
-- KEYS: hash. ARGV: field name, value pairs (kyc and/or prefixed profile fields, validated by the caller).
-- Returns -1 no such customer, else the whole hash as a flat name, value list (the customer after the update).
-- KYC is not denormalized onto cards (only the lock flag is), so nothing else needs writing.
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
for i = 1, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return redis.call('HGETALL', KEYS[1])
