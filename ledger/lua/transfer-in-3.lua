-- Second half of a tranche transfer: credits the destination tranche once per transfer (the
-- receipt makes a repeat, e.g. by a recovering process, move nothing).
-- KEYS[1] destination tranche hash  KEYS[2] receipt (string)  KEYS[3] journal stream
-- ARGV[1] partnerId  ARGV[2] amount  ARGV[3] currency  ARGV[4] transferId
-- ARGV[5] destination group tag  ARGV[6] nowMs
-- Returns {code, replay, 0, amount, destinationAvailableAfter, 0, 0, 0}
--- @include common
if redis.call('EXISTS', KEYS[2]) == 1 then return {C_OK, 1, S_NONE, tonumber(ARGV[2]), 0, 0, 0, 0} end
local v = redis.call('HMGET', KEYS[1], 'a', 'cur')
if not v[1] then return {C_PARTNER_NOT_FOUND, 0, S_NONE, 0, 0, 0, 0, 0} end
if v[2] ~= ARGV[3] then return {C_CURRENCY_MISMATCH, 0, S_NONE, 0, 0, 0, 0, 0} end
local amount = tonumber(ARGV[2])
local a = redis.call('HINCRBY', KEYS[1], 'a', d(amount))
redis.call('SET', KEYS[2], ARGV[6])
local p = {}
posting(p, 'T:' .. ARGV[4], 'P:' .. ARGV[1] .. ':' .. ARGV[5] .. ':a', amount, 'TRANSFER')
journal(KEYS[3], 'xfer-in', ARGV[1], ARGV[4], v[2], ARGV[6], p)
return {C_OK, 0, S_NONE, amount, a, 0, 0, 0}
