-- First half of a move of partner funds between two tranches (slot groups): takes up to the
-- requested amount from the source tranche's available funds into an in-transit record. The
-- record stays in the open set until the destination has received it (transfer-in-3) and the
-- source has closed it (transfer-done-2), so the money is accounted for at every instant:
-- source -> T:<transferId> -> destination.
-- KEYS[1] source tranche hash  KEYS[2] transfer record hash  KEYS[3] open transfers set
-- KEYS[4] journal stream
-- ARGV[1] partnerId  ARGV[2] requested amount  ARGV[3] destination group tag  ARGV[4] nowMs
-- ARGV[5] transferId  ARGV[6] source group tag
-- Returns {code, replay, 0, movedAmount, sourceAvailableAfter, 0, 0, 0}
--- @include common
local existing = redis.call('HMGET', KEYS[2], 'amt')
if existing[1] then return {C_OK, 1, S_NONE, tonumber(existing[1]), 0, 0, 0, 0} end
local v = redis.call('HMGET', KEYS[1], 'a', 'cur')
if not v[1] then return {C_PARTNER_NOT_FOUND, 0, S_NONE, 0, 0, 0, 0, 0} end
local avail = tonumber(v[1])
local moved = math.min(tonumber(ARGV[2]), avail)
if moved <= 0 then return {C_INSUFFICIENT_DEPOSIT, 0, S_NONE, 0, avail, 0, 0, 0} end
local a = redis.call('HINCRBY', KEYS[1], 'a', d(-moved))
redis.call('HSET', KEYS[2], 'pid', ARGV[1], 'amt', d(moved), 'src', ARGV[6], 'dst', ARGV[3], 'cur', v[2], 'st', 'SENT', 't', ARGV[4])
redis.call('SADD', KEYS[3], ARGV[5])
local p = {}
posting(p, 'P:' .. ARGV[1] .. ':' .. ARGV[6] .. ':a', 'T:' .. ARGV[5], moved, 'TRANSFER')
journal(KEYS[4], 'xfer-out', ARGV[1], ARGV[5], v[2], ARGV[4], p)
return {C_OK, 0, S_NONE, moved, a, 0, 0, 0}
