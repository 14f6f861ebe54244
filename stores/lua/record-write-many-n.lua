-- Writes the transaction records of one batch (stores/records.ts) that share a slot group, with
-- their indexes and duplicate answers: one script call per batch instead of one per message.
-- Called with a variable number of keys: seven per record, in order,
--   record (string), balance index (zset), card index (zset), index of unattributed records (zset),
--   duplicate answer (string), the card's retrieval-reference index, the card's original-identity
--   index (what a field 90 names, without field 41)
-- where a key equal to the record's own key means "none".
-- ARGV: seven per record, in the same order,
--   record JSON, time ms (index score), record id, duplicate answer bytes, duplicate TTL ms,
--   ledger transaction id for the reference indexes, reference index TTL ms
-- Returns the number of records written (a record that exists already, a repeat, is skipped).
--
-- A reference index holds the ledger transaction ids of the originals it names, newline-separated,
-- in a string with an expiry: nearly every index names one original, and then it costs a single
-- SET ... PX ... NX. A second original under the same reference (an acquirer that repeats its
-- field 37) is appended and the expiry renewed: a constant cost however many there are. An id is
-- never appended twice: it comes with its record, and a record is written once (its SET ... NX
-- guards the rest). An index written before this layout is a set, and keeps being one (SADD).
local function add_reference(k, tx_id, ttl_ms)
  if redis.call('SET', k, tx_id, 'PX', ttl_ms, 'NX') then return end
  if redis.call('TYPE', k)['ok'] == 'string' then
    redis.call('APPEND', k, '\n' .. tx_id)
  else
    redis.call('SADD', k, tx_id)
  end
  redis.call('PEXPIRE', k, ttl_ms)
end

local written = 0
local n = #KEYS / 7
for r = 0, n - 1 do
  local k = r * 7
  local a = r * 7
  local rec = KEYS[k + 1]
  if redis.call('SET', rec, ARGV[a + 1], 'NX') then
    written = written + 1
    if KEYS[k + 2] ~= rec then redis.call('ZADD', KEYS[k + 2], ARGV[a + 2], ARGV[a + 3]) end
    if KEYS[k + 3] ~= rec then redis.call('ZADD', KEYS[k + 3], ARGV[a + 2], ARGV[a + 3]) end
    if KEYS[k + 4] ~= rec then redis.call('ZADD', KEYS[k + 4], ARGV[a + 2], ARGV[a + 3]) end
    if KEYS[k + 5] ~= rec then redis.call('SET', KEYS[k + 5], ARGV[a + 4], 'PX', ARGV[a + 5], 'NX') end
    for i = 6, 7 do
      if KEYS[k + i] ~= rec then add_reference(KEYS[k + i], ARGV[a + 6], ARGV[a + 7]) end
    end
  end
end
return written
