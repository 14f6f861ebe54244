-- The switch's record of one message (stores/records.ts), with its indexes and cached answer:
-- shared by stores/lua/record-write-many-n.lua (records written after the answers) and
-- hold-many-n.lua (an approval's record written by the hold's own script, HoldArgs.record).
-- K[ko + 1..8]: record (string), balance index (zset), card index (zset), index of unattributed
--   records (zset), cached answer (string), the card's retrieval-reference index, the card's
--   original-identity index, the slot group's record log (stream); a key equal to the record's
--   own key means "none" (the log is always given).
-- A[ao + 1..7]: record bytes, time ms (index score), record id, cached answer bytes, cached answer
--   TTL ms, ledger transaction id for the reference indexes, reference index TTL ms.
-- `answer`: the cached answer to store (A[ao + 4], or that with field 54 filled in).
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

-- Every record written (or replaced) is appended to the slot group's record log, which the
-- history copier (history/copier.ts) reads to copy it to the history database: fields i (record
-- id), t (the index score, ms), v (the record bytes). The copier acknowledges and deletes the
-- entry once the history database has it, then lets the record and its index entries expire.
local function log_record(k_log, A, ao, bytes)
  redis.call('XADD', k_log, '*', 'i', A[ao + 3], 't', A[ao + 2], 'v', bytes)
end

-- Writes the record unless it exists (a repeat names the same record): 1 when written, else 0.
-- `replaces`: nil, or the record bytes a hold carried for this same message (HoldArgs.record)
-- that this write is to replace: a stand-in answer's record after the message's hold may have
-- landed, approved, after the deadline (switch/process/deadline.ts). Only a record equal to those
-- bytes is replaced (with its cached answer; its indexes stand): the record of an earlier answer
-- to the same message (the first of a repeat) is never touched.
local function write_record(K, ko, A, ao, answer, replaces)
  local rec = K[ko + 1]
  if replaces then
    local cur = redis.call('GET', rec)
    if cur == replaces then
      redis.call('SET', rec, A[ao + 1])
      log_record(K[ko + 8], A, ao, A[ao + 1])
      if K[ko + 5] ~= rec then redis.call('SET', K[ko + 5], answer, 'PX', A[ao + 5]) end
      return 1
    end
    if cur then return 0 end
  end
  if not redis.call('SET', rec, A[ao + 1], 'NX') then return 0 end
  log_record(K[ko + 8], A, ao, A[ao + 1])
  for i = 2, 4 do
    if K[ko + i] ~= rec then redis.call('ZADD', K[ko + i], A[ao + 2], A[ao + 3]) end
  end
  if K[ko + 5] ~= rec then redis.call('SET', K[ko + 5], answer, 'PX', A[ao + 5], 'NX') end
  for i = 6, 7 do
    if K[ko + i] ~= rec then add_reference(K[ko + i], A[ao + 6], A[ao + 7]) end
  end
  return 1
end
