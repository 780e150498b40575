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


#: Set (ARGV[1] = 1) or clear (0) the bits ARGV[2..] in every key of KEYS.
#: All KEYS share one chunk hash tag, so this is single-slot on a cluster.
#: Returns a bit mask of the KEYS that did not exist before (bit k-1 for
#: KEYS[k]): a key the caller believed registered but new to the server means
#: a purge or an empty restart.
SET_BITS = LuaScript(
    """
local value = tonumber(ARGV[1])
local created = 0
for k = 1, #KEYS do
  local key = KEYS[k]
  if redis.call('EXISTS', key) == 0 then
    created = created + 2 ^ (k - 1)
  end
  for i = 2, #ARGV do
    redis.call('SETBIT', key, ARGV[i], value)
  end
end
return created
"""
)

#: Map external ids (ARGV) to dense indexes, creating the missing ones atomically.
#: KEYS: forward hash, reverse hash, sequence counter, generation of one shard
#: (one slot). ARGV[1] is 1 to create missing ids, 0 to answer -1 for them;
#: ARGV[2] the number of shards, ARGV[3] this shard: a new index is
#: sequence x shards + shard, dense over all shards. The reply is the
#: generation followed by one index per id.
ID_MAP = LuaScript(
    """
local create = ARGV[1] == '1'
local shards = tonumber(ARGV[2])
local shard = tonumber(ARGV[3])
local out = {tonumber(redis.call('GET', KEYS[4]) or '0')}
for i = 4, #ARGV do
  local ext = ARGV[i]
  local index = redis.call('HGET', KEYS[1], ext)
  if not index then
    if create then
      index = (redis.call('INCR', KEYS[3]) - 1) * shards + shard
      redis.call('HSET', KEYS[1], ext, index)
      redis.call('HSET', KEYS[2], index, ext)
    else
      index = -1
    end
  end
  out[i - 2] = tonumber(index)
end
return out
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
