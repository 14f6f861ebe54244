-- Helpers shared by the outbox scripts (adapters/outbox.ts).
-- An index member is "<ms, 13 digits>|<id>": members of one index sort by time, then id, so the
-- pending and dead indexes are read oldest first with ZRANGEBYLEX and paged by member.
local function index_member(ms, id)
  local s = tostring(ms)
  return string.rep('0', 13 - #s) .. s .. '|' .. id
end

-- Attempts histogram of the group's pending entries: one field per attempt count, the last
-- bucket ("16+") holding every count from 16 up, so the hash stays small.
local function attempt_bucket(n)
  if n >= 16 then return '16+' end
  return tostring(n)
end

local function histogram_add(key, n, by)
  local field = attempt_bucket(n)
  local left = redis.call('HINCRBY', key, field, by)
  if left <= 0 then redis.call('HDEL', key, field) end
end

local function histogram_move(key, from, to)
  if attempt_bucket(from) == attempt_bucket(to) then return end
  histogram_add(key, from, -1)
  histogram_add(key, to, 1)
end
