"""The Lua scripts of :class:`~habla.limits.redis.RedisLimiter`: one atomic round trip each.

They mirror :func:`habla.limits.rules.refusal` exactly; the contract tests run the same
cases over both limiters to keep them in step. All float arithmetic (timestamps, window
bounds) is done in Python and passed in as strings: Lua's ``tostring`` keeps only 14
significant digits, and a Lua number handed to ``redis.call`` may be formatted with an
exponent, which ``INCRBY`` rejects. The scripts only compare and add integers.

Keys of one user share the hash tag ``{user_id}``, so the scripts also work on Redis
Cluster. Limits are passed as ``-1`` when unset.
"""

from __future__ import annotations

# KEYS: 1 requests zset (member id, score admitted-at), 2 slots zset (score expires-at),
#       3 pending marker, 4 tokens day, 5 tokens month, 6 cost day, 7 cost month
# ARGV: 1 now, 2 id, 3 prune-requests-upto (inclusive), 4 prune-slots-upto (inclusive),
#       5 rpm limit, 6 streams limit, 7..10 budget limits (tokens d/m, cost d/m),
#       11 reserve tokens, 12 reserve cost, 13 slot expires-at, 14 requests key ttl,
#       15 slots key ttl, 16 pending ttl, 17 day ttl, 18 month ttl
ADMIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
local function counter(key)
  local v = redis.call('GET', key)
  if v then return tonumber(v) end
  return 0
end
local function refuses(used, limit, reserve)
  if limit < 0 then return false end
  return used >= limit or used + reserve > limit
end
local requests = redis.call('ZCARD', KEYS[1])
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local oldest = ''
if #first > 0 then oldest = first[2] end
local streams = redis.call('ZCARD', KEYS[2])
local used = {counter(KEYS[4]), counter(KEYS[5]), counter(KEYS[6]), counter(KEYS[7])}
local reserve_tokens = tonumber(ARGV[11])
local reserve_cost = tonumber(ARGV[12])
local reserves = {reserve_tokens, reserve_tokens, reserve_cost, reserve_cost}
local refused = false
for i = 1, 4 do
  if refuses(used[i], tonumber(ARGV[6 + i]), reserves[i]) then refused = true end
end
local rpm = tonumber(ARGV[5])
local slots = tonumber(ARGV[6])
if refused or (rpm >= 0 and requests >= rpm) or (slots >= 0 and streams >= slots) then
  return {0, requests, oldest, streams, used[1], used[2], used[3], used[4]}
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[14])
redis.call('ZADD', KEYS[2], ARGV[13], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[15])
redis.call('SET', KEYS[3], '1', 'EX', ARGV[16])
local ttls = {ARGV[17], ARGV[18], ARGV[17], ARGV[18]}
local amounts = {ARGV[11], ARGV[11], ARGV[12], ARGV[12]}
for i = 1, 4 do
  used[i] = redis.call('INCRBY', KEYS[3 + i], amounts[i])
  redis.call('EXPIRE', KEYS[3 + i], ttls[i])
end
local after = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {1, requests + 1, after[2], streams + 1, used[1], used[2], used[3], used[4]}
"""

# KEYS: 1 pending marker, 2 slots zset, 3 tokens day, 4 tokens month, 5 cost day,
#       6 cost month.   ARGV: 1 id, 2 token delta, 3 cost delta
# The pending marker is deleted exactly once, which makes settle idempotent. A counter
# whose period has expired is left alone rather than recreated without a TTL.
SETTLE = """
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
local deltas = {ARGV[2], ARGV[2], ARGV[3], ARGV[3]}
for i = 1, 4 do
  if redis.call('EXISTS', KEYS[2 + i]) == 1 then
    if redis.call('INCRBY', KEYS[2 + i], deltas[i]) < 0 then
      redis.call('SET', KEYS[2 + i], '0', 'KEEPTTL')
    end
  end
end
return 1
"""

# KEYS: 1 requests zset, 2 slots zset, 3..6 counters as in ADMIT
# ARGV: 1 exclusive lower bound of the request window "(t", 2 exclusive bound "(now"
# Read-only, so a snapshot never changes what a later admit sees.
SNAPSHOT = """
local requests = redis.call('ZCOUNT', KEYS[1], ARGV[1], '+inf')
local first = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
local oldest = ''
if #first > 0 then oldest = first[2] end
local streams = redis.call('ZCOUNT', KEYS[2], ARGV[2], '+inf')
local used = {}
for i = 1, 4 do
  local v = redis.call('GET', KEYS[2 + i])
  if v then used[i] = tonumber(v) else used[i] = 0 end
end
return {requests, oldest, streams, used[1], used[2], used[3], used[4]}
"""
