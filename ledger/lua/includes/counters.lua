-- Velocity counters of a card (ledger/counters.ts; docs/ledger.md, "Velocity counters"), shared by
-- the hold scripts (check and count) and the scripts that give usage back (reversal, release,
-- expiry, completion advice). A card's usage of one period is a hash with two fields per counter:
-- a:<controlId> (minor units counted) and n:<controlId> (transactions counted).
--
-- What a transaction counted is recorded in its hash as `vu`: one line per usage hash, lines
-- separated by ';', each "<usage key>|<tag>|<amount still counted>|<controlId>,<controlId>...".
-- The tag is '' for the transaction's own counting (which also counted 1 transaction) and the
-- increment's id for what an incremental authorization counted (its amount only).

-- The counter blocks of a packed argument list A from index p, one per key of use_keys (see
-- packCounters): the key's TTL ms ('' = none), its number of counters, then per counter its id,
-- amount limit, count limit ('' = none) and '1' when enforced. Returns one entry per key.
local function parse_counters(use_keys, A, p)
  local entries = {}
  local idx = 0
  for k = 1, #use_keys do
    local e = {key = use_keys[k], ttl = A[p], cids = {}, al = {}, cl = {}, en = {}, idx = {}}
    local n = tonumber(A[p + 1])
    p = p + 2
    for j = 1, n do
      idx = idx + 1
      e.cids[j] = A[p]
      e.al[j] = tonumber(A[p + 1])
      e.cl[j] = tonumber(A[p + 2])
      e.en[j] = A[p + 3] == '1'
      e.idx[j] = idx
      p = p + 4
    end
    entries[k] = e
  end
  return entries
end

-- Checks the counters against their usage: every amount limit first, then (when `counts`) every
-- count limit, in block order. Returns the decline code of the first ENFORCED counter over its
-- limit (or nil), and the first SHADOW counter over its limit before it as 2 * its number + 0
-- (amount) or + 1 (count), or 0.
local function check_counters(entries, amount, counts)
  for _, e in ipairs(entries) do
    local fields = {}
    for j = 1, #e.cids do
      fields[2 * j - 1] = 'a:' .. e.cids[j]
      fields[2 * j] = 'n:' .. e.cids[j]
    end
    local u = redis.call('HMGET', e.key, unpack(fields))
    e.ua, e.un = {}, {}
    for j = 1, #e.cids do
      e.ua[j] = tonumber(u[2 * j - 1]) or 0
      e.un[j] = tonumber(u[2 * j]) or 0
    end
  end
  local would = 0
  for _, e in ipairs(entries) do
    for j = 1, #e.cids do
      if e.al[j] and e.ua[j] + amount > e.al[j] then
        if e.en[j] then return C_AMOUNT_LIMIT, would end
        if would == 0 then would = 2 * e.idx[j] end
      end
    end
  end
  if counts then
    for _, e in ipairs(entries) do
      for j = 1, #e.cids do
        if e.cl[j] and e.un[j] + 1 > e.cl[j] then
          if e.en[j] then return C_COUNT_LIMIT, would end
          if would == 0 then would = 2 * e.idx[j] + 1 end
        end
      end
    end
  end
  return nil, would
end

-- Counts `amount` (and 1 transaction when `counts`) on every counter, refreshes each usage hash's
-- TTL, and returns the lines of `vu` that record it under `tag`.
local function count_counters(entries, amount, counts, tag)
  local lines = {}
  for _, e in ipairs(entries) do
    for j = 1, #e.cids do
      redis.call('HINCRBY', e.key, 'a:' .. e.cids[j], d(amount))
      if counts then redis.call('HINCRBY', e.key, 'n:' .. e.cids[j], 1) end
    end
    if e.ttl ~= '' then redis.call('PEXPIRE', e.key, e.ttl) end
    lines[#lines + 1] = e.key .. '|' .. tag .. '|' .. d(amount) .. '|' .. table.concat(e.cids, ',')
  end
  return table.concat(lines, ';')
end

-- A transaction's `vu` as a list of lines {key, tag, amount, cids}; an absent or empty one is {}.
local function usage_lines(vu)
  local lines = {}
  if not vu or vu == '' then return lines end
  for line in string.gmatch(vu, '[^;]+') do
    local key, tag, amount, cids = string.match(line, '^(.-)|(.-)|(%d+)|(.*)$')
    local list = {}
    for c in string.gmatch(cids, '[^,]+') do list[#list + 1] = c end
    lines[#lines + 1] = {key = key, tag = tag, amount = tonumber(amount), cids = list}
  end
  return lines
end

local function usage_text(lines)
  local out = {}
  for i, l in ipairs(lines) do out[i] = l.key .. '|' .. l.tag .. '|' .. d(l.amount) .. '|' .. table.concat(l.cids, ',') end
  return table.concat(out, ';')
end

-- True when every usage hash the lines name is among the keys the caller passed (`passed`: a set);
-- else the caller read an older `vu` and must read again (STALE_KEYS).
local function usage_keys_passed(lines, passed)
  for _, l in ipairs(lines) do
    if not passed[l.key] then return false end
  end
  return true
end

-- The keys from index i0 of a KEYS-like list, as a set.
local function key_set(keys, i0)
  local set = {}
  for i = i0, #keys do set[keys[i]] = true end
  return set
end

-- Gives usage back on one usage hash's line: `back` minor units (at most what the line still
-- counts) and, with `count_it`, its 1 transaction. A usage hash gone (its period long over) is not
-- recreated, and no field is taken below zero. Updates the line; returns what it took off it.
local function give_back_line(l, back, count_it)
  back = math.min(back, l.amount)
  if (back > 0 or count_it) and redis.call('EXISTS', l.key) == 1 then
    local fields = {}
    for j = 1, #l.cids do
      fields[2 * j - 1] = 'a:' .. l.cids[j]
      fields[2 * j] = 'n:' .. l.cids[j]
    end
    local u = redis.call('HMGET', l.key, unpack(fields))
    for j = 1, #l.cids do
      local ua, un = tonumber(u[2 * j - 1]) or 0, tonumber(u[2 * j]) or 0
      if back > 0 and ua > 0 then redis.call('HINCRBY', l.key, fields[2 * j - 1], d(-math.min(back, ua))) end
      if count_it and un > 0 then redis.call('HINCRBY', l.key, fields[2 * j], -1) end
    end
  end
  l.amount = l.amount - back
  return back
end

-- Gives usage back: `amount` minor units (nil: everything still counted) from the countings
-- tagged `tag` (nil: any), the most recent counting first (the increments, latest first, then
-- the transaction's own); each counting gives back the same part on every usage hash it counted
-- in (each of its counters counted the whole amount). With `count_back`, also the 1 transaction
-- the transaction's own counting counted. Returns the amount given back (summed over countings).
local function give_back(lines, amount, tag, count_back)
  local order, by_tag = {}, {}
  for _, l in ipairs(lines) do
    if by_tag[l.tag] == nil then
      by_tag[l.tag] = {}
      order[#order + 1] = l.tag
    end
    local g = by_tag[l.tag]
    g[#g + 1] = l
  end
  local left = amount
  local total = 0
  for i = #order, 1, -1 do
    local t = order[i]
    if tag == nil or t == tag then
      local counted = 0
      for _, l in ipairs(by_tag[t]) do counted = math.max(counted, l.amount) end
      local back = counted
      if left ~= nil then
        back = math.min(counted, left)
        left = left - back
      end
      for _, l in ipairs(by_tag[t]) do give_back_line(l, back, count_back and t == '') end
      total = total + back
    end
  end
  return total
end

-- Counts `amount` more on the untagged lines (a completion advice above the hold), on usage hashes
-- that still exist (a hash gone is not recreated: its period is over). Updates the lines.
local function count_more(lines, amount)
  for _, l in ipairs(lines) do
    if l.tag == '' and redis.call('EXISTS', l.key) == 1 then
      for j = 1, #l.cids do redis.call('HINCRBY', l.key, 'a:' .. l.cids[j], d(amount)) end
      l.amount = l.amount + amount
    end
  end
end
