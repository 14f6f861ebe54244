-- Customer store script (stores/customers.ts).
-- KEYS: hash. ARGV: kyc, createdMs, then profile field name, value pairs (names already prefixed).
-- Returns 1 created, 0 exists.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'kyc', ARGV[1], 'lv', 0, 't', ARGV[2])
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return 1
