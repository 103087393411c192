/**
 * The Redis back end's atomic operations, one Lua script each. Every script gets the hub's key prefix
 * (`{prefix}:`, one hash tag, so one Cluster slot) as KEYS[1] and builds its keys from it; the time is
 * always the server's (`TIME`), never a client's: the clocks of several machines disagree.
 *
 * Keys (B = the prefix):
 *   inbox   B in:<scope>:<eventId>       hash r receiver, t received (ms), s seq, m message, ck content key,
 *                                        i instance, h handed on (0/1)
 *           B ck:<contentKey>            -> <scope>:<eventId> (the content de-duplication key)
 *           B pend:<instance>:<receiver> zset eventId by seq: that instance's events not handed on
 *           B rx:<receiver>              hash eventId -> scope, for the receiver's events not handed on
 *           B acc                        hash eventId -> seq: the acceptance order (ordered delivery follows it)
 *           B handed                     zset <scope>:<eventId> by received time (what pruning may drop)
 *           B recv                       hash receiver -> inbox rows (receivers())
 *           B intime                     zset <scope>:<eventId> by received time (the event center's search window)
 *           B scopes                     hash scope -> inbox rows (an event id is looked up in each scope)
 *           B inst                       zset instance id by heartbeat deadline (ms)
 *           B instrecv:<instance>        set of receivers with events pending on that instance
 *   outbox  B d:<id>                     hash s subscriber, e eventId, y type, b body, st state, a attempts,
 *                                        n due (ms), c created, u updated, ls last status, le last error,
 *                                        o order key, tk latest claim's fencing token ('' when none)
 *           B s:<sub>:ev                 hash eventId -> id (one delivery per (subscriber, event))
 *           B s:<sub>:q                  zset of queued ids by order key: the event's acceptance seq (queue
 *                                        order, ordered mode's head), whichever instance accepted and queued it
 *           B s:<sub>:due                zset of queued ids not held by a lease, by due time
 *           B s:<sub>:lease              zset of held ids by lease end
 *           B s:<sub>:dead, s:<sub>:done zsets of ids by id
 *           B s:<sub>:cb                 hash f failures in a row, t threshold, o open until (ms): the breaker
 *           B delivered                  zset of delivered ids by update time (pruning across subscribers)
 *           B subs                       set of subscribers
 *           B orphans                    hash <kind>\0<id> -> first seen (ms)
 *   counters B cnt                       hash name -> total (only ever incremented: instances add up)
 *           B cntat                      hash name -> latest time (ms), kept as the highest given
 *           B min:<minute>               hash name -> that minute's count; expires after the retention
 * Members of id sets are zero-padded (ties in a score sort by id, as the SQLite back end's `ORDER BY next_at, id`).
 */

/** Shared by every script: the server's clock in ms, a padded member for an id, a delivery row. */
const PRELUDE = `
local B = KEYS[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function member(id) return string.format('%015d', tonumber(id)) end
local function sk(sub, name) return B .. 's:' .. sub .. ':' .. name end
local function row(id)
  local f = redis.call('HMGET', B .. 'd:' .. tonumber(id), 's', 'e', 'y', 'b', 'st', 'a', 'n', 'c', 'u', 'ls', 'le', 'tk')
  table.insert(f, 1, tostring(tonumber(id)))
  return f
end
-- Leases that ran out: their deliveries are due again (their holder died or hung). The token stays, so
-- that holder may still record its outcome as long as nobody claimed the delivery since.
local function reap(sub, now)
  local expired = redis.call('ZRANGEBYSCORE', sk(sub, 'lease'), '-inf', now)
  for _, m in ipairs(expired) do
    redis.call('ZREM', sk(sub, 'lease'), m)
    redis.call('ZADD', sk(sub, 'due'), now, m)
  end
end
-- The subscriber's circuit breaker, shared by every instance: open (nothing claimable) until o after
-- t failures in a row; afterwards one probe at a time until a success closes it.
local function breaker(sub)
  local cb = redis.call('HMGET', sk(sub, 'cb'), 'f', 'o', 't')
  local f, o, t = tonumber(cb[1]) or 0, tonumber(cb[2]) or 0, tonumber(cb[3])
  return t ~= nil and f >= t and o > 0, o
end
local function handed(recv, id, scope)
  local ik = scope .. ':' .. id
  redis.call('HDEL', B .. 'rx:' .. recv, id)
  if redis.call('EXISTS', B .. 'in:' .. ik) == 1 then
    redis.call('HSET', B .. 'in:' .. ik, 'h', 1)
    redis.call('ZADD', B .. 'handed', redis.call('HGET', B .. 'in:' .. ik, 't'), ik)
  end
end
`;

export const SCRIPTS = {
  /**
   * ARGV: scope, eventId, receiver, message, contentKey ('' for none), instance, durability wait follows
   * (1/0), instance lifetime ms. 1 new, 0 duplicate. A new event renews the instance's heartbeat in the
   * same step: an instance another one took for dead (and forgot once it adopted its events) is known
   * again before it acknowledges anything, so its events are adopted if it does die. A duplicate followed by WAIT / WAITAOF makes a write that replicates: from
   * Redis 7.2 (and Valkey) those wait only for the connection's own propagated writes, and the original
   * may be another instance's write of a moment ago, still waiting for its condition.
   */
  accept: `
local scope, id, recv, msg, ck, inst = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local function duplicate()
  if ARGV[7] == '1' then redis.call('INCRBY', B .. 'seq:in', 0) end
  return 0
end
local ik = scope .. ':' .. id
if redis.call('EXISTS', B .. 'in:' .. ik) == 1 then return duplicate() end
if ck ~= '' and redis.call('EXISTS', B .. 'ck:' .. ck) == 1 then return duplicate() end
local now = now_ms()
redis.call('ZADD', B .. 'inst', 'GT', now + tonumber(ARGV[8]), inst)
local seq = redis.call('INCR', B .. 'seq:in')
redis.call('HSET', B .. 'in:' .. ik, 'r', recv, 't', now, 's', seq, 'm', msg, 'ck', ck, 'i', inst, 'h', 0)
if ck ~= '' then redis.call('SET', B .. 'ck:' .. ck, ik) end
redis.call('ZADD', B .. 'pend:' .. inst .. ':' .. recv, seq, id)
redis.call('HSET', B .. 'rx:' .. recv, id, scope)
redis.call('SADD', B .. 'instrecv:' .. inst, recv)
redis.call('HINCRBY', B .. 'recv', recv, 1)
redis.call('HSET', B .. 'acc', id, seq)
redis.call('ZADD', B .. 'intime', now, ik)
redis.call('HINCRBY', B .. 'scopes', scope, 1)
return 1
`,

  /** ARGV: instance, receiver. Flat rows: seq, eventId, receivedAt, message. */
  pendingInbox: `
local inst, recv = ARGV[1], ARGV[2]
local out = {}
local ids = redis.call('ZRANGE', B .. 'pend:' .. inst .. ':' .. recv, 0, -1, 'WITHSCORES')
for i = 1, #ids, 2 do
  local id = ids[i]
  local scope = redis.call('HGET', B .. 'rx:' .. recv, id)
  if scope then
    local f = redis.call('HMGET', B .. 'in:' .. scope .. ':' .. id, 't', 'm')
    if f[2] then
      table.insert(out, ids[i + 1]); table.insert(out, id); table.insert(out, f[1]); table.insert(out, f[2])
    end
  end
end
return out
`,

  /** ARGV: instance, receiver, eventId. The message while it is this instance's and not handed on. */
  pendingMessage: `
local inst, recv, id = ARGV[1], ARGV[2], ARGV[3]
if not redis.call('ZSCORE', B .. 'pend:' .. inst .. ':' .. recv, id) then return false end
local scope = redis.call('HGET', B .. 'rx:' .. recv, id)
if not scope then return false end
return redis.call('HGET', B .. 'in:' .. scope .. ':' .. id, 'm')
`,

  /** ARGV: instance, receiver, eventId… How many were this instance's and are handed on now. */
  markHanded: `
local inst, recv = ARGV[1], ARGV[2]
local pk = B .. 'pend:' .. inst .. ':' .. recv
local n = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  if redis.call('ZREM', pk, id) == 1 then
    local scope = redis.call('HGET', B .. 'rx:' .. recv, id)
    if scope then handed(recv, id, scope) end
    n = n + 1
  end
end
if redis.call('EXISTS', pk) == 0 then redis.call('SREM', B .. 'instrecv:' .. inst, recv) end
return n
`,

  /**
   * ARGV: instance, receiver. Moves to this instance the receiver's pending events of instances whose
   * heartbeat lapsed (they died before handing them on); forgets such an instance once nothing of it is
   * left. How many moved.
   */
  adopt: `
local inst, recv = ARGV[1], ARGV[2]
local now = now_ms()
local mine = B .. 'pend:' .. inst .. ':' .. recv
local moved = 0
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', B .. 'inst', '-inf', '(' .. now)) do
  if dead ~= inst then
    local theirs = B .. 'pend:' .. dead .. ':' .. recv
    local ids = redis.call('ZRANGE', theirs, 0, -1, 'WITHSCORES')
    for i = 1, #ids, 2 do
      redis.call('ZADD', mine, ids[i + 1], ids[i])
      moved = moved + 1
    end
    redis.call('DEL', theirs)
    redis.call('SREM', B .. 'instrecv:' .. dead, recv)
    if redis.call('SCARD', B .. 'instrecv:' .. dead) == 0 then redis.call('ZREM', B .. 'inst', dead) end
  end
end
if moved > 0 then redis.call('SADD', B .. 'instrecv:' .. inst, recv) end
return moved
`,

  /** ARGV: instance, lifetime ms. This instance is alive until now + lifetime; dead ones without events go. */
  heartbeat: `
local now = now_ms()
redis.call('ZADD', B .. 'inst', now + tonumber(ARGV[2]), ARGV[1])
-- Instances that died with nothing pending: forgotten here (adopt only visits those with events).
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', B .. 'inst', '-inf', '(' .. now, 'LIMIT', 0, 20)) do
  if redis.call('SCARD', B .. 'instrecv:' .. dead) == 0 then redis.call('ZREM', B .. 'inst', dead) end
end
return 1
`,

  /** ARGV: receiver. Events of the receiver not handed on, on any instance. */
  pendingCount: `
local recv = ARGV[1]
local n = 0
for _, i in ipairs(redis.call('ZRANGE', B .. 'inst', 0, -1)) do n = n + redis.call('ZCARD', B .. 'pend:' .. i .. ':' .. recv) end
return n
`,

  /** ARGV: receiver, limit. Marks up to limit of its pending events (any instance) handed on. */
  giveUpPending: `
local recv, limit = ARGV[1], tonumber(ARGV[2])
local n = 0
for _, i in ipairs(redis.call('ZRANGE', B .. 'inst', 0, -1)) do
  if n >= limit then break end
  local pk = B .. 'pend:' .. i .. ':' .. recv
  local popped = redis.call('ZPOPMIN', pk, limit - n)
  for j = 1, #popped, 2 do
    local id = popped[j]
    local scope = redis.call('HGET', B .. 'rx:' .. recv, id)
    if scope then handed(recv, id, scope) end
    n = n + 1
  end
  if redis.call('EXISTS', pk) == 0 then redis.call('SREM', B .. 'instrecv:' .. i, recv) end
end
return n
`,

  /** ARGV: before (ms), limit. Forgets handed-on inbox rows received before `before`. */
  pruneInbox: `
local rows = redis.call('ZRANGEBYSCORE', B .. 'handed', '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, ik in ipairs(rows) do
  local f = redis.call('HMGET', B .. 'in:' .. ik, 'r', 'ck', 's')
  if f[2] and f[2] ~= '' and redis.call('GET', B .. 'ck:' .. f[2]) == ik then redis.call('DEL', B .. 'ck:' .. f[2]) end
  local id = string.sub(ik, string.find(ik, ':', 1, true) + 1)
  if f[3] and redis.call('HGET', B .. 'acc', id) == f[3] then redis.call('HDEL', B .. 'acc', id) end
  redis.call('DEL', B .. 'in:' .. ik)
  redis.call('ZREM', B .. 'handed', ik)
  redis.call('ZREM', B .. 'intime', ik)
  local scope = string.sub(ik, 1, string.find(ik, ':', 1, true) - 1)
  if redis.call('HINCRBY', B .. 'scopes', scope, -1) <= 0 then redis.call('HDEL', B .. 'scopes', scope) end
  if f[1] and redis.call('HINCRBY', B .. 'recv', f[1], -1) <= 0 then redis.call('HDEL', B .. 'recv', f[1]) end
end
return #rows
`,

  /** ARGV: subscriber, eventId, type, body, delay ms. 1 new, 0 duplicate. */
  enqueue: `
local sub, e = ARGV[1], ARGV[2]
if redis.call('HEXISTS', sk(sub, 'ev'), e) == 1 then return 0 end
local now = now_ms()
local id = redis.call('INCR', B .. 'seq:d')
local m = member(id)
local due = now + tonumber(ARGV[5])
-- Queue order is acceptance order: instances queue an event in any order, whoever accepted it first.
-- An event the hub did not accept (a message built in the flow) counts as accepted now.
local order = tonumber(redis.call('HGET', B .. 'acc', e)) or redis.call('INCR', B .. 'seq:in')
redis.call('HSET', B .. 'd:' .. id, 's', sub, 'e', e, 'y', ARGV[3], 'b', ARGV[4], 'st', 'queued', 'a', 0, 'n', due, 'c', now, 'u', now, 'ls', '', 'le', '', 'tk', '', 'o', order)
redis.call('HSET', sk(sub, 'ev'), e, id)
redis.call('ZADD', sk(sub, 'q'), order, m)
redis.call('ZADD', sk(sub, 'due'), due, m)
redis.call('SADD', B .. 'subs', sub)
return 1
`,

  /**
   * ARGV: subscriber, limit, lease ms, ordered (1/0), settle ms. Takes due deliveries not held by a live
   * lease, earliest due first (ordered: the head only, only while nobody holds it, and only once it was
   * queued `settle` ms ago: an event accepted earlier may still be on its way to the queue through another
   * instance). Flat: server time, lease end, then per claim its row (13 fields) and token.
   */
  claim: `
local sub, limit, leaseMs, ordered, settle = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1', tonumber(ARGV[5])
local now = now_ms()
reap(sub, now)
local batch = {}
local open, openUntil = breaker(sub)
if open then
  if openUntil > now or redis.call('ZCARD', sk(sub, 'lease')) > 0 then return { now, now + leaseMs } end
  limit = 1 -- the probe
end
if ordered then
  local head = redis.call('ZRANGE', sk(sub, 'q'), 0, 0)[1]
  if head then
    local due = redis.call('ZSCORE', sk(sub, 'due'), head)
    local queued = tonumber(redis.call('HGET', B .. 'd:' .. tonumber(head), 'c'))
    if due and tonumber(due) <= now and queued + settle <= now then batch = { head } end
  end
elseif limit > 0 then
  batch = redis.call('ZRANGEBYSCORE', sk(sub, 'due'), '-inf', now, 'LIMIT', 0, limit)
end
local until_ = now + leaseMs
local out = { now, until_ }
for _, m in ipairs(batch) do
  local id = tonumber(m)
  local token = tostring(redis.call('INCR', B .. 'fence'))
  redis.call('ZREM', sk(sub, 'due'), m)
  redis.call('ZADD', sk(sub, 'lease'), until_, m)
  redis.call('HSET', B .. 'd:' .. id, 'tk', token)
  for _, v in ipairs(row(id)) do table.insert(out, v) end
  table.insert(out, token)
end
return out
`,

  /** ARGV: subscriber, ordered (1/0), settle ms. ms until claim() could return something; nil when the queue is empty. */
  nextDueIn: `
local sub, ordered, settle = ARGV[1], ARGV[2] == '1', tonumber(ARGV[3])
local now = now_ms()
local at
if ordered then
  local head = redis.call('ZRANGE', sk(sub, 'q'), 0, 0)[1]
  if not head then return false end
  local lease = redis.call('ZSCORE', sk(sub, 'lease'), head)
  local due = redis.call('ZSCORE', sk(sub, 'due'), head)
  if lease then
    at = math.max(tonumber(lease), tonumber(redis.call('HGET', B .. 'd:' .. tonumber(head), 'n')) or 0)
  else
    at = tonumber(due) or now
  end
  at = math.max(at, tonumber(redis.call('HGET', B .. 'd:' .. tonumber(head), 'c')) + settle)
else
  local d = redis.call('ZRANGE', sk(sub, 'due'), 0, 0, 'WITHSCORES')
  local l = redis.call('ZRANGE', sk(sub, 'lease'), 0, 0, 'WITHSCORES')
  if d[2] then at = tonumber(d[2]) end
  if l[2] and (not at or tonumber(l[2]) < at) then at = tonumber(l[2]) end
  if not at then return false end
end
local open, openUntil = breaker(sub)
if open and openUntil > at then at = openUntil end
return at - now
`,

  /**
   * ARGV: id, token, outcome ('delivered' | 'retry' | 'dead'), status ('' none), error ('' none), retry in ms,
   * breaker threshold ('' none). 1 recorded; 2 recorded, and it closed an open breaker (the queue should be
   * woken); 0 when the token is not the latest claim's (nothing changed).
   */
  complete: `
local id, token, outcome = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local dk = B .. 'd:' .. id
local f = redis.call('HMGET', dk, 's', 'st', 'tk', 'a')
if not f[1] or f[2] ~= 'queued' or f[3] ~= token or token == '' then return 0 end
local sub, m, now = f[1], member(id), now_ms()
redis.call('ZREM', sk(sub, 'lease'), m)
redis.call('ZREM', sk(sub, 'due'), m)
redis.call('HSET', dk, 'a', tonumber(f[4]) + 1, 'ls', ARGV[4], 'le', ARGV[5], 'u', now, 'tk', '')
if outcome == 'delivered' then
  redis.call('ZREM', sk(sub, 'q'), m)
  redis.call('HSET', dk, 'st', 'delivered')
  redis.call('ZADD', sk(sub, 'done'), id, m)
  redis.call('ZADD', B .. 'delivered', now, m)
  local wasOpen = breaker(sub)
  redis.call('DEL', sk(sub, 'cb'))
  if wasOpen then return 2 end
  return 1
end
local failures = redis.call('HINCRBY', sk(sub, 'cb'), 'f', 1)
if ARGV[7] ~= '' then redis.call('HSET', sk(sub, 'cb'), 't', ARGV[7]) end
if outcome == 'retry' then
  local due = now + tonumber(ARGV[6])
  redis.call('HSET', dk, 'n', due)
  redis.call('ZADD', sk(sub, 'due'), due, m)
  if ARGV[7] ~= '' and failures >= tonumber(ARGV[7]) then redis.call('HSET', sk(sub, 'cb'), 'o', due) end
else
  redis.call('ZREM', sk(sub, 'q'), m)
  redis.call('HSET', dk, 'st', 'dead')
  redis.call('ZADD', sk(sub, 'dead'), id, m)
end
return 1
`,

  /** ARGV: id, token. Gives a claim back: claimable at once. 1 done, 0 stale token. */
  release: `
local id, token = tonumber(ARGV[1]), ARGV[2]
local dk = B .. 'd:' .. id
local f = redis.call('HMGET', dk, 's', 'st', 'tk', 'n')
if not f[1] or f[2] ~= 'queued' or f[3] ~= token or token == '' then return 0 end
local m = member(id)
redis.call('ZREM', sk(f[1], 'lease'), m)
redis.call('ZADD', sk(f[1], 'due'), math.min(tonumber(f[4]), now_ms()), m)
redis.call('HSET', dk, 'tk', '')
return 1
`,

  /** ARGV: subscriber, limit. Makes up to `limit` queued deliveries due later than now due now; how many. */
  wakeSome: `
local sub = ARGV[1]
local now = now_ms()
local later = redis.call('ZRANGEBYSCORE', sk(sub, 'due'), '(' .. now, '+inf', 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(later) do
  redis.call('ZADD', sk(sub, 'due'), now, m)
  redis.call('HSET', B .. 'd:' .. tonumber(m), 'n', now)
end
return #later
`,

  /** ARGV: subscriber. queued, delivered, dead. */
  counts: `
local sub = ARGV[1]
return { redis.call('ZCARD', sk(sub, 'q')), redis.call('ZCARD', sk(sub, 'done')), redis.call('ZCARD', sk(sub, 'dead')) }
`,

  /** ARGV: subscriber, set ('q' | 'done' | 'dead'), limit, offset. Rows newest first. */
  list: `
local sub, set, limit, offset = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {}
if limit <= 0 then return out end
for _, m in ipairs(redis.call('ZREVRANGE', sk(sub, set), offset, offset + limit - 1)) do
  for _, v in ipairs(row(m)) do table.insert(out, v) end
end
return out
`,

  /** ARGV: subscriber, id ('' for all). Dead letters back in the queue, attempts reset; how many. */
  replay: `
local sub = ARGV[1]
local now = now_ms()
local ids
if ARGV[2] == '' then ids = redis.call('ZRANGE', sk(sub, 'dead'), 0, -1)
elseif redis.call('ZSCORE', sk(sub, 'dead'), member(ARGV[2])) then ids = { member(ARGV[2]) }
else ids = {} end
for _, m in ipairs(ids) do
  local id = tonumber(m)
  redis.call('ZREM', sk(sub, 'dead'), m)
  redis.call('ZADD', sk(sub, 'q'), tonumber(redis.call('HGET', B .. 'd:' .. id, 'o')) or id, m)
  redis.call('ZADD', sk(sub, 'due'), now, m)
  redis.call('HSET', B .. 'd:' .. id, 'st', 'queued', 'a', 0, 'n', now, 'u', now, 'tk', '')
end
return #ids
`,

  /** ARGV: before (ms), limit. Forgets delivered rows of any subscriber last updated before `before`. */
  pruneDelivered: `
local rows = redis.call('ZRANGEBYSCORE', B .. 'delivered', '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(rows) do
  local id = tonumber(m)
  local f = redis.call('HMGET', B .. 'd:' .. id, 's', 'e')
  if f[1] then
    redis.call('ZREM', sk(f[1], 'done'), m)
    redis.call('HDEL', sk(f[1], 'ev'), f[2])
  end
  redis.call('DEL', B .. 'd:' .. id)
  redis.call('ZREM', B .. 'delivered', m)
end
return #rows
`,

  /** Subscribers with deliveries in any state (forgetting those left with none). */
  subscribers: `
local out = {}
for _, sub in ipairs(redis.call('SMEMBERS', B .. 'subs')) do
  if redis.call('ZCARD', sk(sub, 'q')) + redis.call('ZCARD', sk(sub, 'done')) + redis.call('ZCARD', sk(sub, 'dead')) > 0 then
    table.insert(out, sub)
  else
    redis.call('SREM', B .. 'subs', sub)
  end
end
return out
`,

  /** ARGV: subscriber. Deliveries in any state. */
  queueSize: `
local sub = ARGV[1]
return redis.call('ZCARD', sk(sub, 'q')) + redis.call('ZCARD', sk(sub, 'done')) + redis.call('ZCARD', sk(sub, 'dead'))
`,

  /** ARGV: subscriber, limit. Deletes up to limit deliveries of the subscriber, in any state. */
  dropQueue: `
local sub, limit = ARGV[1], tonumber(ARGV[2])
local n = 0
for _, set in ipairs({ 'q', 'dead', 'done' }) do
  if n >= limit then break end
  for _, m in ipairs(redis.call('ZRANGE', sk(sub, set), 0, limit - n - 1)) do
    local id = tonumber(m)
    redis.call('HDEL', sk(sub, 'ev'), redis.call('HGET', B .. 'd:' .. id, 'e') or '')
    redis.call('DEL', B .. 'd:' .. id)
    for _, s in ipairs({ 'q', 'due', 'lease', 'dead', 'done' }) do redis.call('ZREM', sk(sub, s), m) end
    redis.call('ZREM', B .. 'delivered', m)
    n = n + 1
  end
end
if redis.call('ZCARD', sk(sub, 'q')) + redis.call('ZCARD', sk(sub, 'dead')) + redis.call('ZCARD', sk(sub, 'done')) == 0 then redis.call('DEL', sk(sub, 'cb')) end
return n
`,

  /**
   * ARGV: retention ms, then groups of four: kind ('add' | 'latest' | 'minute'), name, minute (ms), amount.
   * Adds a counter batch (counter-store.ts) in one step; a minute's hash expires `retention` after its end.
   */
  addCounts: `
local retention = tonumber(ARGV[1])
for i = 2, #ARGV, 4 do
  local kind, name, minute, amount = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  if kind == 'add' then
    redis.call('HINCRBY', B .. 'cnt', name, amount)
  elseif kind == 'latest' then
    local was = tonumber(redis.call('HGET', B .. 'cntat', name))
    if not was or was < amount then redis.call('HSET', B .. 'cntat', name, amount) end
  else
    local mk = B .. 'min:' .. minute
    redis.call('HINCRBY', mk, name, amount)
    redis.call('PEXPIREAT', mk, tonumber(minute) + 60000 + retention)
  end
end
return 1
`,

  /** ARGV: name, since (ms), until (ms, '' for now), most minutes. Flat: minute, count for each minute with a count. */
  minuteSeries: `
local name, most = ARGV[1], tonumber(ARGV[4])
local until_ = tonumber(ARGV[3]) or now_ms()
local first = math.floor(math.max(tonumber(ARGV[2]), until_ - most * 60000) / 60000) * 60000
local out = {}
for minute = first, until_, 60000 do
  local n = redis.call('HGET', B .. 'min:' .. string.format('%d', minute), name)
  if n then table.insert(out, minute); table.insert(out, n) end
end
return out
`,

  /** ARGV: subscriber. ms since the oldest queued delivery (the head) was first queued; nil when none is. */
  oldestQueuedAge: `
local head = redis.call('ZRANGE', sk(ARGV[1], 'q'), 0, 0)[1]
if not head then return false end
local created = tonumber(redis.call('HGET', B .. 'd:' .. tonumber(head), 'c'))
if not created then return false end
return math.max(0, now_ms() - created)
`,

  // --- the event center (event-query.ts): bounded reads ------------------------------------------

  /**
   * ARGV: from (ms), to (ms), scan limit, candidate limit, three texts ('' for none). Looks at the newest
   * `scan limit` events received in [from, to] and returns those whose message contains every text.
   * Flat: how many events the window held (at most scan limit + 1), then per candidate <scope>:<eventId>,
   * receiver, received, handed, message.
   */
  searchInbox: `
local scan, want = tonumber(ARGV[3]), tonumber(ARGV[4])
local window = redis.call('ZREVRANGEBYSCORE', B .. 'intime', ARGV[2], ARGV[1], 'LIMIT', 0, scan + 1)
local out = { #window }
local found = 0
for i = 1, math.min(#window, scan) do
  if found >= want then break end
  local f = redis.call('HMGET', B .. 'in:' .. window[i], 'r', 't', 'h', 'm')
  local m = f[4]
  if m and string.find(m, ARGV[5], 1, true) and string.find(m, ARGV[6], 1, true) and string.find(m, ARGV[7], 1, true) then
    table.insert(out, window[i]); table.insert(out, f[1]); table.insert(out, f[2]); table.insert(out, f[3]); table.insert(out, m)
    found = found + 1
  end
end
return out
`,

  /** ARGV: eventId. The event in every scope that has it; flat as searchInbox's candidates (no count). */
  inboxById: `
local out = {}
for _, scope in ipairs(redis.call('HKEYS', B .. 'scopes')) do
  local ik = scope .. ':' .. ARGV[1]
  local f = redis.call('HMGET', B .. 'in:' .. ik, 'r', 't', 'h', 'm')
  if f[4] then
    table.insert(out, ik); table.insert(out, f[1]); table.insert(out, f[2]); table.insert(out, f[3]); table.insert(out, f[4])
  end
end
return out
`,

  /** ARGV: eventId. Every subscriber's delivery of it: rows (13 fields each), by subscriber. */
  deliveriesOf: `
local out = {}
local subs = redis.call('SMEMBERS', B .. 'subs')
table.sort(subs)
for _, sub in ipairs(subs) do
  local id = redis.call('HGET', sk(sub, 'ev'), ARGV[1])
  if id then for _, v in ipairs(row(id)) do table.insert(out, v) end end
end
return out
`,

  /** ARGV: from (ms), minutes. Events received in each minute from \`from\`, oldest first. */
  perMinute: `
local from, out = tonumber(ARGV[1]), {}
for i = 0, tonumber(ARGV[2]) - 1 do
  table.insert(out, redis.call('ZCOUNT', B .. 'intime', from + i * 60000, '(' .. (from + (i + 1) * 60000)))
end
return out
`,
} as const;

export type ScriptName = keyof typeof SCRIPTS;

/** Each script's full source: the prelude and its body. */
export function scriptSource(name: ScriptName): string {
  return PRELUDE + SCRIPTS[name];
}
