-- Card store script (stores/cards.ts). KEYS[1] is the card record hash.
-- Card data verified (cardauth/run.ts): the chip read's ATC is consumed, then the counts of the
-- checks that passed are reset.
-- KEYS: record. ARGV: card id, ATC ('' when no chip read), message id, then counter fields to reset ('pf', 'c2').
-- Returns 1 done, 0 the ATC is not above the highest consumed (a replayed cryptogram; nothing
-- written), -1 no such card (or another id under the PAN).
-- The ATC (fields ac: highest consumed, am: the message that consumed it) is not part of what a
-- decision reads from the record, so it does not count up the version v: a chip transaction does
-- not make the next one read the card again. The message id lets a message that is decided a
-- second time (its remembered card changed before its hold) pass with the ATC it consumed itself.
-- Resets do not count up v either: a remembered copy that still shows a count only resets it again.
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return -1 end
if ARGV[2] ~= '' then
  local atc = tonumber(ARGV[2])
  local cur = tonumber(redis.call('HGET', KEYS[1], 'ac') or '-1')
  if atc > cur then
    redis.call('HSET', KEYS[1], 'ac', ARGV[2], 'am', ARGV[3])
  elseif not (atc == cur and redis.call('HGET', KEYS[1], 'am') == ARGV[3]) then
    return 0
  end
end
for i = 4, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], 0) end
return 1
