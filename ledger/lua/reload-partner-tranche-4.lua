-- Reloads one tranche of a partner balance with money from outside (bank transfer to the BIN
-- sponsor): W:funding -> tranche available.
-- KEYS[1] idempotency record  KEYS[2] partner tranche hash  KEYS[3] journal stream
-- KEYS[4] world accounts hash
-- ARGV[1] amount  ARGV[2] nowMs  ARGV[3] idempotency TTL ms  ARGV[4] partnerId  ARGV[5] group tag
-- A reload that would take the tranche (available + blocked) past the maximum amount is refused
-- with AMOUNT_TOO_LARGE.
-- Returns {code, replay, 0, trancheAvailable, trancheBlocked, amount, 0, 0}
--- @include common
local amount = tonumber(ARGV[1])
local ref = ARGV[4] .. '/' .. ARGV[5]
local prior = replayed(KEYS[1], 'reload', ref)
if prior then return prior end
local v = redis.call('HMGET', KEYS[2], 'a', 'b', 'cur')
if not v[1] then return finish(KEYS[1], ARGV[3], 'reload', ref, {C_PARTNER_NOT_FOUND, 0, S_NONE, 0, 0, 0, 0, 0}) end
if over_max(tonumber(v[1]) + tonumber(v[2]), amount) then
  return finish(KEYS[1], ARGV[3], 'reload', ref, {C_AMOUNT_TOO_LARGE, 0, S_NONE, tonumber(v[1]), tonumber(v[2]), 0, 0, 0})
end
local a = redis.call('HINCRBY', KEYS[2], 'a', d(amount))
redis.call('HINCRBY', KEYS[4], v[3] .. ':W:funding', d(-amount))
local p = {}
posting(p, 'W:funding', 'P:' .. ARGV[4] .. ':' .. ARGV[5] .. ':a', amount, 'RELOAD')
journal(KEYS[3], 'reload', ARGV[4], ARGV[1], v[3], ARGV[2], p)
return finish(KEYS[1], ARGV[3], 'reload', ref, {C_OK, 0, S_NONE, a, tonumber(v[2]), amount, 0, 0})
