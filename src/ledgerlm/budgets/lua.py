"""Lua scripts run atomically by Redis for the shared budget and rate-limit counters.

Key layout under a prefix ``P`` (default ``{ledgerlm}``, a hash tag so that every key of one deployment
lives in one cluster slot); ``slug`` is ``kind:id`` of an entity; amounts are integer nano-USD strings:

* ``P:epoch``               marker ``<run id>:<nonce>:<quiet until, ms>`` of the instance that (re)built
                            the counters; until the quiet deadline, budgets admit only restored holds
* ``P:sp:<slug>``           settled spend in the current budget period (loaded from the database)
* ``P:pd:<slug>``           the period that spend belongs to (the entity's ``budget_reset_at``)
* ``P:rs:<slug>``           sum of open reservations
* ``P:par:<slug>``          requests in flight
* ``P:rpm:<window>:<slug>`` requests in a one-minute window; ``P:tpm:<window>:<slug>`` tokens
* ``P:res:<id>``            one reservation: ``amount``, ``state`` (open / expired), ``b`` budgets,
                            ``t`` tracked entities, ``r`` rate-limited entities (slugs joined by \\31)
* ``P:rexp``                sorted set: reservation id -> lease deadline (ms) for reclaiming leaks

Replies of ``ADMIT``: ``{"EPOCH"}`` (marker missing: Redis restarted or flushed), ``{"QUIET", ms}``
(a rebuild's quiet window: ms left; the last ARGV, ``1`` when restoring a hold, passes it), ``{"LOAD", i...}``
(spend counters not loaded: 1-based indexes into budgets then tracked entities), ``{"ok", 0, ...counts}``
or ``{"budget"|"rpm"|"tpm"|"parallel", i, limit, spend|count, reserved, ...counts}``, where counts are
``rpm_used, tpm_used`` per rate-limited entity.
"""

from __future__ import annotations

__all__ = ["ADMIT", "LOAD", "RELEASE", "SETTLE"]

_COMMON = r"""
local SEP = string.char(31)
local function split(text)
  local out = {}
  if not text or text == '' then return out end
  for part in string.gmatch(text, '([^' .. SEP .. ']+)') do out[#out + 1] = part end
  return out
end
local function free(prefix, amount, budgets, rates)
  -- amounts stay strings: Lua would print numbers >= 1e14 in exponent form, which INCRBY rejects
  for _, slug in ipairs(budgets) do redis.call('DECRBY', prefix .. ':rs:' .. slug, amount) end
  for _, slug in ipairs(rates) do redis.call('DECR', prefix .. ':par:' .. slug) end
end
"""

ADMIT = (
    _COMMON
    + r"""
local now = tonumber(ARGV[1])
local amount = tonumber(ARGV[2])
local deadline = tonumber(ARGV[3])
local nb, nr, nt = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local prefix, res_ttl, rid, window_ttl = ARGV[7], tonumber(ARGV[8]), ARGV[9], tonumber(ARGV[10])
local blob_b, blob_t, blob_r = ARGV[11], ARGV[12], ARGV[13]
local LIM = 13
local epoch = redis.call('GET', KEYS[3])
if not epoch then return {'EPOCH'} end
-- after a rebuild, budgets admit nothing until every instance restored its holds (the quiet window,
-- its end in ms after the last ':' of the marker); restoring a hold (flag after the rate limits) may
local quiet = tonumber(string.match(epoch, ':(%d+)$') or '0')
local restoring = ARGV[LIM + 2 * nb + 3 * nr + 1] == '1'
if nb > 0 and now < quiet and not restoring then return {'QUIET', tostring(quiet - now)} end

-- reclaim reservations whose lease ended (a crashed instance never settles them)
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 100)
for _, old in ipairs(expired) do
  local key = prefix .. ':res:' .. old
  local fields = redis.call('HMGET', key, 'state', 'amount', 'b', 'r')
  if fields[1] == 'open' then
    free(prefix, fields[2], split(fields[3]), split(fields[4]))
    redis.call('HSET', key, 'state', 'expired')
  end
  redis.call('ZREM', KEYS[1], old)
end

-- spend counters missing (new entity, Redis restart) or of another budget period (reset elsewhere)
local missing = {'LOAD'}
for i = 1, nb do
  local sp, pd = KEYS[3 + 3 * i - 2], KEYS[3 + 3 * i]
  if redis.call('EXISTS', sp) == 0 or redis.call('GET', pd) ~= ARGV[LIM + nb + i] then
    missing[#missing + 1] = i
  end
end
for j = 1, nt do
  if redis.call('EXISTS', KEYS[3 + 3 * nb + 3 * nr + j]) == 0 then missing[#missing + 1] = nb + j end
end
if #missing > 1 then return missing end

local counts = {}
for j = 1, nr do
  local base = 3 + 3 * nb + 3 * (j - 1)
  counts[#counts + 1] = tonumber(redis.call('GET', KEYS[base + 2]) or '0')
  counts[#counts + 1] = tonumber(redis.call('GET', KEYS[base + 3]) or '0')
end
local function reply(kind, index, limit, a, b)
  local out = {kind, index, tostring(limit), tostring(a), tostring(b)}
  for _, c in ipairs(counts) do out[#out + 1] = c end
  return out
end
-- idempotent by reservation id: a retry whose first attempt did run holds nothing twice
if redis.call('HGET', KEYS[2], 'state') == 'open' then return reply('ok', 0, 0, 0, 0) end

for i = 1, nb do
  local sp = redis.call('GET', KEYS[3 + 3 * i - 2])
  local rs = redis.call('GET', KEYS[3 + 3 * i - 1]) or '0'
  local limit = ARGV[LIM + i]
  if tonumber(sp) + tonumber(rs) + amount > tonumber(limit) then
    return reply('budget', i, limit, sp, rs)
  end
end
for j = 1, nr do
  local base = 3 + 3 * nb + 3 * (j - 1)
  local a = LIM + 2 * nb + 3 * (j - 1)
  local rpm, tpm, par = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local inflight = tonumber(redis.call('GET', KEYS[base + 1]) or '0')
  if rpm >= 0 and counts[2 * j - 1] + 1 > rpm then return reply('rpm', j, rpm, counts[2 * j - 1], 0) end
  if tpm >= 0 and counts[2 * j] >= tpm then return reply('tpm', j, tpm, counts[2 * j], 0) end
  if par >= 0 and inflight + 1 > par then return reply('parallel', j, par, inflight, 0) end
end

for i = 1, nb do redis.call('INCRBY', KEYS[3 + 3 * i - 1], ARGV[2]) end
for j = 1, nr do
  local base = 3 + 3 * nb + 3 * (j - 1)
  redis.call('INCR', KEYS[base + 1])
  redis.call('INCR', KEYS[base + 2])
  redis.call('EXPIRE', KEYS[base + 2], window_ttl)
  counts[2 * j - 1] = counts[2 * j - 1] + 1
end
redis.call('HSET', KEYS[2], 'amount', ARGV[2], 'state', 'open', 'b', blob_b, 't', blob_t, 'r', blob_r)
redis.call('EXPIRE', KEYS[2], res_ttl)
redis.call('ZADD', KEYS[1], deadline, rid)
return reply('ok', 0, 0, 0, 0)
"""
)

SETTLE = (
    _COMMON
    + r"""
-- KEYS: reservation hash, rexp. ARGV: prefix, reservation id, actual nano-USD, tokens, window, window ttl
local prefix, rid, actual, tokens = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local window, window_ttl = ARGV[5], tonumber(ARGV[6])
local fields = redis.call('HMGET', KEYS[1], 'state', 'amount', 'b', 't', 'r')
if not fields[1] then return 0 end
local budgets, track, rates = split(fields[3]), split(fields[4]), split(fields[5])
if fields[1] == 'open' then free(prefix, fields[2], budgets, rates) end
local seen = {}
for _, list in ipairs({budgets, track}) do
  for _, slug in ipairs(list) do
    if not seen[slug] then
      seen[slug] = true
      local key = prefix .. ':sp:' .. slug
      if redis.call('EXISTS', key) == 1 then redis.call('INCRBY', key, ARGV[3]) end
    end
  end
end
if tokens > 0 then
  for _, slug in ipairs(rates) do
    local key = prefix .. ':tpm:' .. window .. ':' .. slug
    redis.call('INCRBY', key, ARGV[4])
    redis.call('EXPIRE', key, window_ttl)
  end
end
redis.call('ZREM', KEYS[2], rid)
redis.call('DEL', KEYS[1])
return 1
"""
)

RELEASE = (
    _COMMON
    + r"""
-- KEYS: reservation hash, rexp. ARGV: prefix, reservation id
local prefix, rid = ARGV[1], ARGV[2]
local fields = redis.call('HMGET', KEYS[1], 'state', 'amount', 'b', 'r')
if not fields[1] then return 0 end
if fields[1] == 'open' then free(prefix, fields[2], split(fields[3]), split(fields[4])) end
redis.call('ZREM', KEYS[2], rid)
redis.call('DEL', KEYS[1])
return 1
"""
)

LOAD = r"""
-- KEYS: sp, pd per entity. ARGV: spend (nano-USD), period per entity. Loads spend loaded from the
-- database unless another instance loaded this period already (then its counter is kept).
for i = 1, #KEYS / 2 do
  local sp, pd = KEYS[2 * i - 1], KEYS[2 * i]
  local period = ARGV[2 * i]
  if redis.call('EXISTS', sp) == 0 or redis.call('GET', pd) ~= period then
    redis.call('SET', sp, ARGV[2 * i - 1])
    redis.call('SET', pd, period)
  end
end
return 1
"""
