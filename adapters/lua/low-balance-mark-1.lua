-- Records what the low-balance watcher (adapters/low-balance.ts) saw of one partner balance, so
-- that each crossing below the program's level is notified once, by one switch process.
-- KEYS[1] state hash of the partner balance: low ('1' while below the level), n (crossings so far)
-- ARGV[1] '1' below the level, '0' at or above it
-- ARGV[2] (below only) the crossing number the caller has just enqueued a notification for
-- Returns 1 when this call recorded a new crossing, 2 when it re-armed (back at or above the
-- level), 0 when nothing changed (already recorded, or another process recorded it first)
local s = redis.call('HMGET', KEYS[1], 'low', 'n')
local low = s[1] == '1'
local n = tonumber(s[2] or '0')
if ARGV[1] == '1' then
  if low or n + 1 ~= tonumber(ARGV[2]) then return 0 end
  redis.call('HSET', KEYS[1], 'low', '1', 'n', ARGV[2])
  return 1
end
if not low then return 0 end
redis.call('HSET', KEYS[1], 'low', '0')
return 2
