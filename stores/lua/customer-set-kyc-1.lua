-- Customer store script (stores/customers.ts).
-- KEYS: hash. ARGV: kyc. Returns 1 set, -1 no such customer.
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSET', KEYS[1], 'kyc', ARGV[1])
return 1
