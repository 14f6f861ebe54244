-- Writes the transaction records of one batch (stores/records.ts) that share a slot group, with
-- their indexes and cached answers: one script call per batch instead of one per message.
-- Called with a variable number of keys: eight per record, in order, as write_record's K
-- (ledger/lua/includes/record-write.lua).
-- ARGV: eight per record, in the same order: write_record's seven A values, then the record bytes
-- it is to replace (write_record's `replaces`), or '' for none.
-- Returns the number of records written (a record that exists already, a repeat, is skipped).
--- @include record-write

local written = 0
local n = #KEYS / 8
for r = 0, n - 1 do
  local replaces = ARGV[r * 8 + 8]
  if replaces == '' then replaces = nil end
  written = written + write_record(KEYS, r * 8, ARGV, r * 8, ARGV[r * 8 + 4], replaces)
end
return written
