-- What the history copier does once the history database has committed a batch of one slot
-- group (history/copier.ts): acknowledge and delete the entries copied, and start the retention
-- of what they made history. One call per group and batch, so that the copier pays one command
-- for it, not one per entry.
-- KEYS[1] the journal stream  KEYS[2] the record log stream
-- KEYS[3 .. 2 + e] keys to expire in ARGV retention ms: finished transactions' hashes, records copied
-- KEYS[3 + e ..] record indexes (zsets) to trim: entries scored before the cutoff go, and the
--   index itself expires when no record comes for retention (plus the copier's trimming period)
-- ARGV[1] consumer group  ARGV[2] retention ms  ARGV[3] index cutoff score (ms)  ARGV[4] index TTL ms
-- ARGV[5] e (keys to expire)  ARGV[6] the journal entry ids copied, comma-separated (one argument
-- instead of hundreds costs the copier less)  ARGV[7] the record log entry ids, the same way
-- Returns the number of entries deleted.
local group = ARGV[1]
local e = tonumber(ARGV[5])
-- unpack() is limited by Lua's stack: ids go in chunks.
local CHUNK = 1000
local deleted = 0
local function settle(stream, joined)
  local ids = {}
  for id in string.gmatch(joined, '[^,]+') do ids[#ids + 1] = id end
  for s = 1, #ids, CHUNK do
    local last = math.min(s + CHUNK - 1, #ids)
    redis.call('XACK', stream, group, unpack(ids, s, last))
    deleted = deleted + redis.call('XDEL', stream, unpack(ids, s, last))
  end
end
settle(KEYS[1], ARGV[6])
settle(KEYS[2], ARGV[7])
for k = 3, 2 + e do redis.call('PEXPIRE', KEYS[k], ARGV[2]) end
for k = 3 + e, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[k], '-inf', '(' .. ARGV[3])
  redis.call('PEXPIRE', KEYS[k], ARGV[4])
end
return deleted
