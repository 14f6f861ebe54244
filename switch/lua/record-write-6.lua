-- Writes one transaction record (switch/records.ts) and its indexes, and the duplicate answer
-- cache entry when it shares the record's slot group (single Redis), in one step.
-- KEYS[1] record (string)   KEYS[2] balance index (zset)   KEYS[3] card index (zset)
-- KEYS[4] group index of all records (zset)   KEYS[5] duplicate answer (string), or KEYS[1] for none
-- KEYS[6] the card's retrieval-reference index for this field 37 (set of ledger transaction ids), or KEYS[1]
-- ARGV[1] record JSON   ARGV[2] time ms (index score)   ARGV[3] record id
-- ARGV[4] duplicate answer bytes   ARGV[5] duplicate answer TTL ms
-- ARGV[6] ledger transaction id for the reference index   ARGV[7] reference index TTL ms
-- Returns 1 when written, 0 when the record existed (a repeat of the same message).
if redis.call('SET', KEYS[1], ARGV[1], 'NX') == false then return 0 end
if KEYS[2] ~= KEYS[1] then redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3]) end
if KEYS[3] ~= KEYS[1] then redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3]) end
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[3])
if KEYS[5] ~= KEYS[1] then redis.call('SET', KEYS[5], ARGV[4], 'PX', ARGV[5], 'NX') end
if KEYS[6] ~= KEYS[1] then
  redis.call('SADD', KEYS[6], ARGV[6])
  redis.call('PEXPIRE', KEYS[6], ARGV[7])
end
return 1
