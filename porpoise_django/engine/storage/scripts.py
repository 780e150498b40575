"""Lua scripts run by the engine, called by SHA with a reload on NOSCRIPT.

redis-py's own ``Script`` objects make a pipeline send ``SCRIPT EXISTS`` before
every ``execute()``, an extra round trip per unit of work; these scripts are
sent by ``EVALSHA`` and loaded only when the server answers NOSCRIPT (after a
restart or ``SCRIPT FLUSH``); then only the script calls are sent again (every
script here is idempotent; the rest of a batch, such as counter increments, is
not, and is never sent twice).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from redis.exceptions import NoScriptError


class LuaScript:
    """A Lua script addressed by its SHA1."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def queue(self, pipe: Any, keys: Sequence[str], args: Sequence[Any]) -> None:
        """Add an ``EVALSHA`` of this script to a pipeline."""
        pipe.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)

    def load(self, client: Any) -> None:
        # On Redis Cluster, SCRIPT LOAD goes to every primary.
        client.script_load(self.source)

    def __call__(self, client: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return client.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)
        except NoScriptError:
            self.load(client)
            return client.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)


class CommandBuffer:
    """Records redis-py calls (``buf.setbit(...)``) to send them in one go.

    Multi-key commands are recorded as ``execute_command("BITOP", ...)``:
    redis-py's cluster pipeline refuses its ``bitop()``/``mget()`` methods, but
    sends the generic form to the one slot that all the keys share (they carry
    the same hash tag by design).

    One recorded command is sent as a plain call, several as one pipeline:
    for a single command redis-py's pipeline machinery costs more than the
    command itself.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.tolerated: set[int] = set()

    def tolerate_last(self) -> None:
        """Let the last recorded call fail without failing the batch: its error
        becomes its reply (a read whose node is down must not fail a write)."""
        self.tolerated.add(len(self.calls) - 1)

    def __len__(self) -> int:
        return len(self.calls)

    def __getattr__(self, method: str) -> Callable[..., None]:
        def record(*args: Any, **kwargs: Any) -> None:
            self.calls.append((method, args, kwargs))

        return record

    def send(self, client: Any, scripts: Sequence[LuaScript] = ()) -> list[Any]:
        """Send the recorded calls; a NOSCRIPT reply loads ``scripts`` and re-sends
        only the script calls (never the whole batch, which may hold increments).
        """
        if len(self.calls) == 1 and not self.tolerated:
            method, args, kwargs = self.calls[0]
            try:
                return [getattr(client, method)(*args, **kwargs)]
            except NoScriptError:
                _load(client, scripts)
                return [getattr(client, method)(*args, **kwargs)]
        results = self._pipeline(client, self.calls)
        missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if missing:
            _load(client, scripts)
            retried = self._pipeline(client, [self.calls[i] for i in missing])
            for i, result in zip(missing, retried, strict=True):
                results[i] = result
        for i, result in enumerate(results):
            if isinstance(result, Exception) and i not in self.tolerated:
                raise result
        return results

    @staticmethod
    def _pipeline(
        client: Any, calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]]
    ) -> list[Any]:
        pipe = client.pipeline(transaction=False)
        find_node = getattr(client, "get_node_from_key", None)  # a RedisCluster
        for method, args, kwargs in calls:
            if find_node is not None and args and args[0] == "EVALSHA":
                # Left alone, redis-py's cluster pipeline asks the server for
                # the keys of every EVALSHA (one round trip each); the first
                # key names the slot, which every key of a script shares.
                kwargs = {**kwargs, "target_nodes": find_node(args[3])}
            getattr(pipe, method)(*args, **kwargs)
        return list(pipe.execute(raise_on_error=False))


def _load(client: Any, scripts: Sequence[LuaScript]) -> None:
    if not scripts:
        raise NoScriptError("NOSCRIPT and no script source to load")
    for script in scripts:
        script.load(client)


def run_pipeline(
    client: Any, build: Callable[[Any], None], scripts: Sequence[LuaScript]
) -> list[Any]:
    """Build and send one batch of commands in one round trip (two after a NOSCRIPT)."""
    buffer = CommandBuffer()
    build(buffer)
    if not buffer.calls:
        return []
    return buffer.send(client, scripts)


#: Set (ARGV[1] = 1) or clear (0) the bits ARGV[2..] in every key of KEYS;
#: with ARGV[1] = "p1" or "p0" the offsets come packed in ARGV[2] instead, 4
#: bytes each, big-endian (a batch of marks: 4 bytes an offset rather than a
#: RESP string that redis-py encodes one by one).
#: All KEYS share one chunk hash tag, so this is single-slot on a cluster.
#: Returns a bit mask of the KEYS that did not exist before (bit k-1 for
#: KEYS[k]): a key the caller believed registered but new to the server means
#: a purge or an empty restart.
SET_BITS = LuaScript(
    """
local mode = ARGV[1]
local value = tonumber(string.sub(mode, -1))
local offsets = {}
if string.sub(mode, 1, 1) == 'p' then
  local packed = ARGV[2]
  for i = 1, #packed, 4 do
    offsets[#offsets + 1] = struct.unpack('>I4', packed, i)
  end
else
  for i = 2, #ARGV do
    offsets[#offsets + 1] = ARGV[i]
  end
end
local created = 0
for k = 1, #KEYS do
  local key = KEYS[k]
  if redis.call('EXISTS', key) == 0 then
    created = created + 2 ^ (k - 1)
  end
  for i = 1, #offsets do
    redis.call('SETBIT', key, offsets[i], value)
  end
end
return created
"""
)

#: What the id map's scripts share (see :mod:`~porpoise_django.engine.storage.ids`
#: for the layout). KEYS[1..4] of one shard (one slot): its meta hash (``b``
#: forward buckets, ``n`` ids), its hash of long ids, and the one-hash layout's
#: forward and reverse hashes (read until migrated). ARGV[1..3]: the shard's
#: key base, the number of shards, the shard. An id is sent as its 5-byte
#: digest followed by its packed form; the bucket names are built here from
#: the base (every bucket carries the shard's hash tag, so all are in its slot).
_ID_MAP_LUA = """
local base, shards, shard = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local meta, long, old_fwd, old_rev = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local LOAD = 40  -- ids per forward bucket on average (listpacks hold 128)
local fprefix, rprefix = base .. ':f:', base .. ':r:'
local buckets, count, half = 1, 0, 1
local function load_state()
  local state = redis.call('HMGET', meta, 'b', 'n')
  buckets, count, half = tonumber(state[1] or '1'), tonumber(state[2] or '0'), 1
  while half * 2 <= buckets do half = half * 2 end
end
local function save() redis.call('HSET', meta, 'b', buckets, 'n', count) end
local function number(digest)
  local a, b, c, d, e = string.byte(digest, 1, 5)
  return a + 256 * (b + 256 * (c + 256 * (d + 256 * e)))
end
-- Linear hashing: buckets below buckets - half are split, so they use one more bit.
local function forward(digest)
  local h = number(digest)
  local b = h % half
  if b < buckets - half then b = h % (2 * half) end
  return fprefix .. b
end
local function slot(digest, k)
  if k == 0 then return digest end
  return digest .. string.char(k)
end
local function reverse(seq)
  local field = seq % 128
  return rprefix .. ((seq - field) / 128), field
end
local function stored(seq)
  local key, field = reverse(seq)
  local value = redis.call('HGET', key, field)
  if value == '' then value = redis.call('HGET', long, seq) end
  return value
end
-- An id's forward bucket, its sequence (false if absent), its field (or the
-- free one at the end of its digest's chain) and that field's place in the chain.
local function find(digest, packed)
  local key, k, field = forward(digest), 0, digest
  while true do
    local seq = redis.call('HGET', key, field)
    if not seq then return key, false, field, k end
    seq = tonumber(seq)
    if stored(seq) == packed then return key, seq, field, k end
    k = k + 1
    field = slot(digest, k)
  end
end
-- Bucket buckets - half is split into itself and one new bucket, half above.
local function split()
  local p = buckets - half
  local src, dst = fprefix .. p, fprefix .. (p + half)
  local all = redis.call('HGETALL', src)
  local keep, move, gone = {}, {}, {}
  for i = 1, #all, 2 do
    if number(all[i]) % (2 * half) == p then
      keep[#keep + 1], keep[#keep + 2] = all[i], all[i + 1]
    else
      move[#move + 1], move[#move + 2] = all[i], all[i + 1]
      gone[#gone + 1] = all[i]
    end
  end
  if #move > 0 then
    redis.call('HSET', dst, unpack(move))
    if #all > 256 then  -- it outgrew the compact encoding: written anew, compact again
      redis.call('DEL', src)
      if #keep > 0 then redis.call('HSET', src, unpack(keep)) end
    else
      redis.call('HDEL', src, unpack(gone))
    end
  end
  buckets = buckets + 1
  if buckets == 2 * half then half = 2 * half end
end
local function place(key, field, seq, packed)
  redis.call('HSET', key, field, seq)
  local rkey, rfield = reverse(seq)
  if #packed > 64 then  -- longer than a compact hash value: kept aside
    redis.call('HSET', rkey, rfield, '')
    redis.call('HSET', long, seq, packed)
  else
    redis.call('HSET', rkey, rfield, packed)
  end
  count = count + 1
  while count > LOAD * buckets do split() end
end
local function text_of(packed)
  local mark = string.byte(packed, 1)
  if mark ~= 254 and mark ~= 255 then return packed end
  local hex = string.gsub(string.sub(packed, 2), '.', function(c)
    return string.format('%02x', string.byte(c))
  end)
  if mark == 254 then hex = string.upper(hex) end
  return string.sub(hex, 1, 8) .. '-' .. string.sub(hex, 9, 12) .. '-' ..
    string.sub(hex, 13, 16) .. '-' .. string.sub(hex, 17, 20) .. '-' .. string.sub(hex, 21)
end
-- An id of the one-hash layout, moved into the buckets under its index.
local function adopt(digest, packed, text, index)
  local key, seq, field = find(digest, packed)
  if not seq then
    seq = (tonumber(index) - shard) / shards
    place(key, field, seq, packed)
  end
  redis.call('HDEL', old_fwd, text)
  redis.call('HDEL', old_rev, index)
  return seq
end
"""

#: Map external ids to dense indexes, creating the missing ones atomically.
#: KEYS[1..4] and ARGV[1..3] as in ``_ID_MAP_LUA``; then KEYS: the sequence,
#: the generation and the epoch token of the shard. ARGV[4] is 1 to create
#: missing ids, 0 to answer -1 for them; ARGV[5] the token to write if the
#: shard has none (a new map, or one lost by a FLUSHDB or an empty restart);
#: then the ids. A new index is sequence x shards + shard, dense over all
#: shards. An id still in the one-hash layout is moved into the buckets. The
#: reply is the generation, the shard's token ('' if none) and one index per id.
ID_MAP = LuaScript(
    _ID_MAP_LUA
    + """
local create = ARGV[4] == '1'
local epoch = redis.call('GET', KEYS[7])
if not epoch and create then
  epoch = ARGV[5]
  redis.call('SET', KEYS[7], epoch)
end
local out = {tonumber(redis.call('GET', KEYS[6]) or '0'), epoch or ''}
local legacy = redis.call('EXISTS', old_fwd) == 1
local changed = false
load_state()
for i = 6, #ARGV do
  local digest, packed = string.sub(ARGV[i], 1, 5), string.sub(ARGV[i], 6)
  local key, seq, field = find(digest, packed)
  if not seq and legacy then
    local text = text_of(packed)
    local index = redis.call('HGET', old_fwd, text)
    if index then
      seq = adopt(digest, packed, text, index)
      changed = true
    end
  end
  if not seq and create then
    seq = redis.call('INCR', KEYS[5]) - 1
    place(key, field, seq, packed)
    changed = true
  end
  if seq then out[#out + 1] = seq * shards + shard else out[#out + 1] = -1 end
end
if changed then save() end
return out
"""
)

#: The packed ids of sequence numbers (ARGV[4..]) of one shard, false for none.
ID_REVERSE = LuaScript(
    _ID_MAP_LUA
    + """
local legacy = redis.call('EXISTS', old_rev) == 1
local out = {}
for i = 4, #ARGV do
  local seq = tonumber(ARGV[i])
  local value = stored(seq)
  if not value and legacy then value = redis.call('HGET', old_rev, seq * shards + shard) end
  out[#out + 1] = value
end
return out
"""
)

#: Delete one id (ARGV[4]: digest and packed id, ARGV[5]: its text) from the
#: buckets and the one-hash layout; the last field of its digest's chain takes
#: its place, so chains have no holes. Reply: 1 if it was there, else 0.
ID_FORGET = LuaScript(
    _ID_MAP_LUA
    + """
load_state()
local digest, packed = string.sub(ARGV[4], 1, 5), string.sub(ARGV[4], 6)
local removed = 0
local key, seq, field, k = find(digest, packed)
if seq then
  local last = k
  while redis.call('HEXISTS', key, slot(digest, last + 1)) == 1 do last = last + 1 end
  if last > k then
    redis.call('HSET', key, field, redis.call('HGET', key, slot(digest, last)))
  end
  redis.call('HDEL', key, slot(digest, last))
  local rkey, rfield = reverse(seq)
  redis.call('HDEL', rkey, rfield)
  redis.call('HDEL', long, seq)
  count = count - 1
  save()
  removed = 1
end
local index = redis.call('HGET', old_fwd, ARGV[5])
if index then
  redis.call('HDEL', old_fwd, ARGV[5])
  redis.call('HDEL', old_rev, index)
  removed = 1
end
return removed
"""
)

#: Move ids of the one-hash layout into the buckets: ARGV[4..] in threes
#: (digest and packed id, text, index), each moved only if the old hash still
#: holds it under that index. The old reverse hash goes with the last id.
#: Reply: how many were moved.
ID_ADOPT = LuaScript(
    _ID_MAP_LUA
    + """
load_state()
local moved = 0
for i = 4, #ARGV, 3 do
  local text, index = ARGV[i + 1], ARGV[i + 2]
  if redis.call('HGET', old_fwd, text) == index then
    adopt(string.sub(ARGV[i], 1, 5), string.sub(ARGV[i], 6), text, index)
    moved = moved + 1
  end
end
if redis.call('EXISTS', old_fwd) == 0 then redis.call('DEL', old_rev) end
save()
return moved
"""
)

#: The store's epoch and the id map's shard count, in the ``{idmap}`` slot.
#: KEYS: generation, epoch token, shard count, the one-shard forward hash.
#: ARGV: the token to write if there is none, the configured shard count
#: ('' when not in "map" id mode), 1 to write what is missing (0: read only).
#: A map made before the count was stored is of one shard if ``{idmap}:fwd``
#: exists. Reply: generation, token ('' if none), stored count ('' if none).
STORE_EPOCH = LuaScript(
    """
local write = ARGV[3] == '1'
local epoch = redis.call('GET', KEYS[2])
if not epoch and write then
  epoch = ARGV[1]
  redis.call('SET', KEYS[2], epoch)
end
local shards = redis.call('GET', KEYS[3])
if not shards and write and ARGV[2] ~= '' then
  shards = ARGV[2]
  if redis.call('EXISTS', KEYS[4]) == 1 then
    shards = '1'
  end
  redis.call('SET', KEYS[3], shards)
end
return {tonumber(redis.call('GET', KEYS[1]) or '0'), epoch or '', shards or ''}
"""
)


#: A counter increment applied at most once. KEYS[1]: a marker named after the
#: increment's token; then the total keys, then the sorted sets (for an id);
#: all in the counter's slot. ARGV: marker TTL, amount, id ('' for none),
#: number of total keys, and optionally the row's bit in a marker shared by
#: the rows of one batch (a bitmap: one key per batch, not one per row).
#: Every key is checked before the first write: a Lua error after a write
#: would leave the marker set and the count half applied (Redis does not roll
#: scripts back), so nothing that can fail may come after the marker.
COUNT_ONCE = LuaScript(
    """
local totals = tonumber(ARGV[4])
for i = 2, #KEYS do
  local kind = redis.call('TYPE', KEYS[i])['ok']
  local want = i <= totals + 1 and 'string' or 'zset'
  if kind ~= 'none' and kind ~= want then
    return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' holds a ' .. kind)
  end
  if kind == 'string' and not tonumber(redis.call('GET', KEYS[i])) then
    return redis.error_reply('NOTANUMBER ' .. KEYS[i])
  end
end
if ARGV[5] then
  -- one marker per batch, a bit per row
  if redis.call('SETBIT', KEYS[1], ARGV[5], 1) == 1 then
    return 0
  end
  redis.call('EXPIRE', KEYS[1], ARGV[1])
elseif not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return 0
end
for i = 2, totals + 1 do
  redis.call('INCRBYFLOAT', KEYS[i], ARGV[2])
end
if ARGV[3] ~= '' then
  for i = totals + 2, #KEYS do
    redis.call('ZINCRBY', KEYS[i], ARGV[2], ARGV[3])
  end
end
return 1
"""
)


#: Every cell of a cohort table over one chunk, on the server: one call per chunk.
#: KEYS: the rows (ARGV[1] of them), the targets (ARGV[2]), then three scratch
#: keys; all of one chunk (one slot). ARGV[3] trim, ARGV[4] gather, ARGV[5]
#: transfer (costs in bytes scanned, see analyses.cohorts), ARGV[6] the cells
#: as 1-based (row, target) pairs packed in 4-byte big-endian numbers (a table
#: of thousands of cells is one string to send, not thousands of arguments).
#: A cell is BITCOUNT(row AND target). When the bytes of the row that hold
#: ids are few beside the bitmaps' lengths (signup cohorts sit in narrow id
#: bands), both are cut to those bytes first, so BITOP scans only them. Rows
#: with few ids against many bytes can instead be left to the caller, who
#: tests their ids in the targets: then their cells are -1 and the reply ends
#: with their bytes and the targets', each as {index, first byte, bytes}.
#: The reply: row sizes, one count per cell, then {rows sent} and {targets sent}.
COHORT_CELLS = LuaScript(
    """
local nrows, ntargets = tonumber(ARGV[1]), tonumber(ARGV[2])
local trim, gather, transfer = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local base = nrows + ntargets
local cell, rowcut, targetcut = KEYS[base + 1], KEYS[base + 2], KEYS[base + 3]
local len, size, lo, hi, cost, cells = {}, {}, {}, {}, {}, {}
-- The cells, packed: 4-byte big-endian (row, target) pairs, decoded once.
local R, T, packed = {}, {}, ARGV[6]
for i = 1, #packed, 8 do
  R[#R + 1], T[#T + 1] = struct.unpack('>I4I4', packed, i)
end
for i = 1, base do len[i] = redis.call('STRLEN', KEYS[i]) end
for r = 1, nrows do
  size[r], cost[r], cells[r] = redis.call('BITCOUNT', KEYS[r]), 0, 0
  if size[r] > 0 then
    lo[r] = math.floor(redis.call('BITPOS', KEYS[r], 1) / 8)
    hi[r] = len[r] - 1
  end
end
local function direct(r, t)
  return trim * (hi[r] - lo[r] + 1) >= math.max(len[r], len[t])
end
-- The server's cost of each row: the bytes its cells scan.
for c = 1, #R do
  local r, t = R[c], nrows + T[c]
  if size[r] > 0 and len[t] > lo[r] and KEYS[r] ~= KEYS[t] then
    cells[r] = cells[r] + 1
    if direct(r, t) then cost[r] = cost[r] + math.max(len[r], len[t])
    else cost[r] = cost[r] + trim * (hi[r] - lo[r] + 1) end
  end
end
-- Rows whose ids the caller tests faster than the server scans their bytes,
-- if what they save pays for sending the targets they need.
local sent, saved, needed, moved = {}, 0, {}, 0
for r = 1, nrows do
  if cells[r] > 0 and gather * size[r] * cells[r] < cost[r] then
    sent[r] = true
    saved = saved + cost[r] - gather * size[r] * cells[r]
    moved = moved + transfer * (hi[r] - lo[r] + 1)
  end
end
for c = 1, #R do
  local r, t = R[c], T[c]
  if sent[r] and not needed[t] and len[nrows + t] > lo[r] then
    needed[t] = true
    moved = moved + transfer * len[nrows + t]
  end
end
if saved <= moved then sent, needed = {}, {} end
local out, cut = {}, 0
for r = 1, nrows do out[r] = size[r] end
for c = 1, #R do
  local r, t = R[c], nrows + T[c]
  local count = 0
  if sent[r] then
    count = -1
  elseif size[r] > 0 and len[t] > lo[r] then
    if KEYS[r] == KEYS[t] then
      count = size[r]
    elseif direct(r, t) then
      redis.call('BITOP', 'AND', cell, KEYS[r], KEYS[t])
      count = redis.call('BITCOUNT', cell)
    else
      if cut ~= r then
        redis.call('SET', rowcut, redis.call('GETRANGE', KEYS[r], lo[r], hi[r]))
        cut = r
      end
      redis.call('SET', targetcut, redis.call('GETRANGE', KEYS[t], lo[r], hi[r]))
      redis.call('BITOP', 'AND', cell, rowcut, targetcut)
      count = redis.call('BITCOUNT', cell)
    end
  end
  out[#out + 1] = count
end
redis.call('DEL', cell, rowcut, targetcut)
local rows, targets = {}, {}
for r = 1, nrows do
  if sent[r] then
    rows[#rows + 1] = {r, lo[r], redis.call('GETRANGE', KEYS[r], lo[r], hi[r])}
  end
end
for t = 1, ntargets do
  if needed[t] then targets[#targets + 1] = {t, 0, redis.call('GET', KEYS[nrows + t])} end
end
out[#out + 1] = rows
out[#out + 1] = targets
return out
"""
)


#: Counts of several sets over several chunks in one call.
#: ARGV[1] is the number of chunks n; then per set its operator ('KEY' for a
#: stored bitmap, 'AND' / 'OR' / 'XOR' of its operands, 'MINUS' for
#: first AND NOT second) and its number of operands m. KEYS: per set, per
#: chunk, its m operand keys; then, if any set has an operator, n scratch keys,
#: one per chunk (in its slot).
#: On one server one call covers every chunk; on a cluster a call's keys must
#: share a slot, so there is one call per chunk (one round trip per node).
#: The reply is one count per set.
#: The count of one stored bitmap over its chunks (KEYS): a sum of BITCOUNTs,
#: with nothing to parse (the commonest read: "how many did X today").
SUM_BITCOUNTS = LuaScript(
    """
local total = 0
for i = 1, #KEYS do total = total + redis.call('BITCOUNT', KEYS[i]) end
return total
"""
)

COUNT_SETS = LuaScript(
    """
local n = tonumber(ARGV[1])
local operators = false
for s = 2, #ARGV, 2 do
  if ARGV[s] ~= 'KEY' then operators = true end
end
local scratch = #KEYS - n  -- the scratch keys follow the operands, if any set needs them
local k, out = 1, {}
for s = 2, #ARGV, 2 do
  local op, m = ARGV[s], tonumber(ARGV[s + 1])
  local total = 0
  for c = 1, n do
    if op == 'KEY' then
      total = total + redis.call('BITCOUNT', KEYS[k])
    else
      local into = KEYS[scratch + c]
      if op == 'MINUS' then
        redis.call('BITOP', 'AND', into, KEYS[k], KEYS[k + 1])
        redis.call('BITOP', 'XOR', into, KEYS[k], into)
      else
        redis.call('BITOP', op, into, unpack(KEYS, k, k + m - 1))
      end
      total = total + redis.call('BITCOUNT', into)
    end
    k = k + m
  end
  out[#out + 1] = total
end
if operators then redis.call('DEL', unpack(KEYS, scratch + 1, #KEYS)) end
return out
"""
)
