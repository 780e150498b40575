"""Properties: who an id is now (person properties) and what an event carried
(event properties), both kept as bitmaps, so any count can be split by them.

A person property holds one current value per id: one time-less bitmap per
value in each chunk, and setting a new value moves the id out of the old one
(one Lua call per chunk and property, all in one round trip)::

    pp:{c3}:p:plan:pro            ids whose plan is "pro", chunk 3
    pp:{c3}:pv:plan               values of plan held in chunk 3

An event property is the value at the time of the event: the event is also
marked, per value, as an event of its own named ``event=property=value``
(``=`` is not allowed in names, so it cannot collide with one), with the
event's granularities, retention and registries::

    pp:{c3}:e:purchase=source=ads:d:20261204

The property registry lives in one slot, so one script registers a value:

    pp:{props}:kinds              hash: property -> "person" | "event"
    pp:{props}:values:plan        the values of plan (at most max_values, then "$other")
    pp:{props}:events:source      the events that carry the event property source

>>> pp.set_properties(7, {"plan": "pro", "country": "FR"})
>>> pp.mark("active", 7)
>>> pp.mark("purchase", 7, properties={"source": "ads"})
>>> (pp.event("active").day() & pp.where(plan="pro")).count()
1
>>> pp.event("active").day().breakdown("plan")
{'pro': 1}
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from porpoise_django.engine.errors import InvalidExpression, InvalidValue
from porpoise_django.engine.events.bitmaps import (
    Bitmap,
    BitOp,
    Difference,
    EventBitmap,
    Memo,
    union,
)
from porpoise_django.engine.events.marks import Marking, Row
from porpoise_django.engine.names import OTHER_VALUE, validate_name
from porpoise_django.engine.storage.bitarrays import bitmap_from_offsets
from porpoise_django.engine.storage.ids import ExternalId
from porpoise_django.engine.storage.policy import Policy
from porpoise_django.engine.storage.scripts import LuaScript, run_pipeline
from porpoise_django.engine.storage.writes import Prepared
from porpoise_django.engine.time.periods import When
from porpoise_django.engine.values import text

if TYPE_CHECKING:
    from porpoise_django.engine.storage.store import Store

#: The value that stands for every value beyond the bound (and beyond ``top``).
OTHER = OTHER_VALUE
DEFAULT_MAX_PROPERTY_VALUES = 50
KINDS = ("person", "event")
#: Properties set in one call, and carried by one mark.
MAX_PROPERTIES_PER_WRITE = 20
#: Seconds a process trusts its list of a property's values.
VALUES_CACHE_SECONDS = 2.0

# Registers a property's kind and values; returns {kind, stored value...}. A
# value beyond the bound is stored as "$other". Nothing is written when the
# property already has the other kind.
REGISTER = LuaScript(
    """
local kind = redis.call('HGET', KEYS[1], ARGV[1])
if kind and kind ~= ARGV[2] then return {kind} end
if not kind then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
local out = {ARGV[2]}
local max = tonumber(ARGV[3])
for i = 4, #ARGV do
  local v = ARGV[i]
  if redis.call('SISMEMBER', KEYS[2], v) == 1 then
    out[#out + 1] = v
  elseif redis.call('SCARD', KEYS[2]) - redis.call('SISMEMBER', KEYS[2], '$other') < max then
    redis.call('SADD', KEYS[2], v)
    out[#out + 1] = v
  else
    redis.call('SADD', KEYS[2], '$other')
    out[#out + 1] = '$other'
  end
end
return out
"""
)

# One id's value of one person property in one chunk: cleared from every value
# the chunk holds, set in the new one ('' clears only). The value keys share
# the chunk's hash tag, so they sit in the slot of KEYS[1].
SET_PERSON = LuaScript(
    """
local values = redis.call('SMEMBERS', KEYS[1])
for _, v in ipairs(values) do
  if v ~= ARGV[3] then redis.call('SETBIT', ARGV[1] .. v, ARGV[2], 0) end
end
if ARGV[3] ~= '' then
  redis.call('SETBIT', ARGV[1] .. ARGV[3], ARGV[2], 1)
  redis.call('SADD', KEYS[1], ARGV[3])
end
return #values
"""
)


# The ids of KEYS[1] holding each value KEYS[2..], counted in one call per chunk
# (ARGV[1]: a scratch key in the chunk's slot, deleted before returning).
COUNT_VALUES = LuaScript(
    """
local out = {}
for i = 2, #KEYS do
  redis.call('BITOP', 'AND', ARGV[1], KEYS[1], KEYS[i])
  out[#out + 1] = redis.call('BITCOUNT', ARGV[1])
end
redis.call('DEL', ARGV[1])
return out
"""
)


def restricted_name(event: str, prop: str, value: str) -> str:
    """The event name that holds ``event`` restricted to ``prop = value``."""
    return f"{event}={prop}={value}"


def is_restricted(name: str) -> bool:
    """True for the engine's own ``event=property=value`` names."""
    return "=" in name


def check_value(value: object, prop: str) -> str:
    """A property value as stored: a name-like string (ints and bools are written out)."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, int):
        value = str(value)
    if value == OTHER:
        raise InvalidValue(f"{OTHER!r} is reserved for values beyond the bound", field=prop)
    try:
        return validate_name(value, what=f"value of property {prop!r}")
    except ValueError as exc:
        raise InvalidValue(str(exc), field=prop) from None


def check_property(name: object) -> str:
    return validate_name(name, what="property name")


class PropertyBitmap(Bitmap):
    """Ids whose person property ``prop`` is ``value`` now (time-less)."""

    def __init__(self, store: Store, prop: str, value: str) -> None:
        super().__init__(store)
        self.prop = prop
        self.value = value

    @property
    def signature(self) -> str:
        return f"p:{self.prop}={self.value}"

    def compile(self, chunk: int, pipe: Any, memo: Memo) -> str:
        return f"{self.store.keys.tag(chunk)}:p:{self.prop}:{self.value}"


# One id's value of each person property in one chunk: KEYS are the chunk's
# value sets (``pv:<name>``), ARGV[1] the id's offset, ARGV[i + 1] the prefix of
# property i's value bitmaps; '' where the id holds no value.
PERSON_VALUES = LuaScript(
    """
local out = {}
for i = 1, #KEYS do
  local held = ''
  for _, v in ipairs(redis.call('SMEMBERS', KEYS[i])) do
    if redis.call('GETBIT', ARGV[i + 1] .. v, ARGV[1]) == 1 then
      held = v
      break
    end
  end
  out[#out + 1] = held
end
return out
"""
)


def kinds_key(prefix: str) -> str:
    """The hash of every property's kind (``person`` or ``event``) under ``prefix``."""
    return f"{prefix}:{{props}}:kinds"


def queue_person_values(pipe: Any, tag: str, offset: int, props: Sequence[str]) -> None:
    """Queue one :data:`PERSON_VALUES` call: the values of ``props`` held by the id
    at ``offset`` of the chunk whose hash tag is ``tag`` (a list, '' for none)."""
    PERSON_VALUES.queue(
        pipe, [f"{tag}:pv:{p}" for p in props], [offset, *(f"{tag}:p:{p}:" for p in props)]
    )


class PropertyRegistry:
    """The properties of one store: their kind, their values, and the writes."""

    def __init__(
        self,
        store: Store,
        note_chunks: Callable[[Iterable[int]], None],
        max_values: int = DEFAULT_MAX_PROPERTY_VALUES,
    ) -> None:
        if isinstance(max_values, bool) or not isinstance(max_values, int) or max_values < 1:
            raise ValueError(f"max_property_values must be an int >= 1, got {max_values!r}")
        self.store = store
        self.note_chunks = note_chunks
        self.max_values = max_values
        self.kinds: dict[str, str] = {}
        self.accepted: dict[tuple[str, str], str] = {}
        self.carriers: set[tuple[str, str]] = set()
        self.values_read: dict[str, tuple[float, list[str]]] = {}

    # -- keys ---------------------------------------------------------------------------
    def kinds_key(self) -> str:
        return kinds_key(self.store.keys.prefix)

    def values_key(self, prop: str) -> str:
        return f"{self.store.keys.prefix}:{{props}}:values:{prop}"

    def events_key(self, prop: str) -> str:
        return f"{self.store.keys.prefix}:{{props}}:events:{prop}"

    # -- registry -----------------------------------------------------------------------
    def accept(self, kind: str, wanted: Mapping[str, Iterable[str]]) -> dict[tuple[str, str], str]:
        """The stored value of each ``(property, value)`` (``$other`` past the bound),
        registering what this process has not seen, in one round trip."""
        missing = {
            prop: sorted({v for v in values if (prop, v) not in self.accepted})
            for prop, values in wanted.items()
        }
        missing = {prop: values for prop, values in missing.items() if values}
        for prop in wanted:
            known = self.kinds.get(prop)
            if known is not None and known != kind:
                raise self.mixed(prop, known, kind)
        if missing:
            order = list(missing)

            def build(pipe: Any) -> None:
                for prop in order:
                    REGISTER.queue(
                        pipe,
                        [self.kinds_key(), self.values_key(prop)],
                        [prop, kind, self.max_values, *missing[prop]],
                    )

            replies = self.store.run(build, scripts=(REGISTER,))
            for prop, reply in zip(order, replies, strict=True):
                stored = [text(v) for v in reply]
                if stored[0] != kind:
                    self.kinds[prop] = stored[0]
                    raise self.mixed(prop, stored[0], kind)
                self.kinds[prop] = kind
                for value, kept in zip(missing[prop], stored[1:], strict=True):
                    self.accepted[(prop, value)] = kept
        return {
            (prop, v): self.accepted[(prop, v)] for prop, values in wanted.items() for v in values
        }

    @staticmethod
    def mixed(prop: str, known: str, wanted: str) -> InvalidValue:
        return InvalidValue(
            f"{prop!r} is a {known} property in this store, not a {wanted} property "
            "(a name is one or the other: the first use decides)",
            field=prop,
        )

    def kind_of(self, prop: str) -> str:
        """``"person"`` or ``"event"``; raises for a property never written."""
        check_property(prop)
        if prop not in self.kinds:
            raw = self.store.client.hget(self.kinds_key(), prop)
            if raw is None:
                known = sorted(text(k) for k in self.store.client.hkeys(self.kinds_key()))
                raise InvalidValue(
                    f"unknown property {prop!r}; known: {', '.join(known) or 'none yet'}",
                    field="breakdown",
                )
            self.kinds[prop] = text(raw)
        return self.kinds[prop]

    def names(self) -> dict[str, str]:
        """Every property of the store and its kind."""
        raw = self.store.client.hgetall(self.kinds_key())
        return {text(k): text(v) for k, v in sorted(raw.items())}

    def values(self, prop: str) -> list[str]:
        """The stored values of ``prop``, ``$other`` last (cached a moment)."""
        self.kind_of(prop)
        cached = self.values_read.get(prop)
        if cached is not None and time.monotonic() - cached[0] < VALUES_CACHE_SECONDS:
            return cached[1]
        raw = sorted(text(v) for v in self.store.client.smembers(self.values_key(prop)))
        values = [v for v in raw if v != OTHER] + ([OTHER] if OTHER in raw else [])
        self.values_read[prop] = (time.monotonic(), values)
        return values

    def carrying(self, prop: str) -> set[str]:
        """The events that carry event property ``prop``."""
        return {text(e) for e in self.store.client.smembers(self.events_key(prop))}

    def forget(self) -> None:
        """Drop what this process cached (after a purge)."""
        self.kinds.clear()
        self.accepted.clear()
        self.carriers.clear()
        self.values_read.clear()

    # -- writes -------------------------------------------------------------------------
    def set_person(self, external: Any, properties: Mapping[str, object]) -> None:
        """Set (or with ``None`` clear) person properties of one id, in one round trip."""
        checked = self.check_write(properties, allow_none=True)
        store = self.store
        [index] = store.id_codec.to_indexes([store.id_codec.check(external)], create=True)
        chunk, offset = divmod(index, store.keys.chunk_size)
        stored = self.accept("person", {p: [v] for p, v in checked.items() if v is not None})
        tag = store.keys.tag(chunk)

        def build(pipe: Any) -> None:
            for prop, value in checked.items():
                kept = "" if value is None else stored[(prop, value)]
                SET_PERSON.queue(pipe, [f"{tag}:pv:{prop}"], [f"{tag}:p:{prop}:", offset, kept])
            pipe.sadd(store.keys.chunks, chunk)

        store.run(build, scripts=(SET_PERSON,))
        self.note_chunks([chunk])

    def import_person(self, prop: str, ids: Any, values: Any) -> int:
        """Set person property ``prop`` of many ids at once (``values[i]`` for
        ``ids[i]``): bitmaps built with numpy, two round trips whatever the size.
        Each id leaves its previous value, as with :meth:`set_person`."""
        name = check_property(prop)
        store = self.store
        externals = [store.id_codec.check(i) for i in ids]
        checked = [check_value(v, name) for v in values]
        if len(externals) != len(checked):
            raise InvalidValue("ids and values differ in length", field="values")
        if not externals:
            return 0
        indexes = np.asarray(store.id_codec.to_indexes(externals, create=True), dtype=np.int64)
        stored = self.accept("person", {name: sorted(set(checked))})
        kept = np.asarray([stored[(name, v)] for v in checked], dtype=object)
        size = store.keys.chunk_size
        chunks = indexes // size
        order = sorted({int(c) for c in np.unique(chunks)})

        def read(pipe: Any) -> None:
            for chunk in order:
                pipe.smembers(f"{store.keys.tag(chunk)}:pv:{name}")

        held = store.run(read, scripts=())

        def build(pipe: Any) -> None:
            for chunk, present in zip(order, held, strict=True):
                in_chunk = chunks == chunk
                self.queue_chunk(
                    pipe, name, chunk, indexes[in_chunk] % size, kept[in_chunk], present
                )
            pipe.sadd(store.keys.chunks, *order)

        store.run(build, scripts=())
        self.note_chunks(order)
        return len(externals)

    def queue_chunk(
        self, pipe: Any, prop: str, chunk: int, offsets: Any, values: Any, present: Any
    ) -> None:
        """Queue one chunk of :meth:`import_person`: the ids leave every value the
        chunk holds (``v XOR (v AND ids)``), then join their new one (OR)."""
        tag = self.store.keys.tag(chunk)
        mask, both = f"{tag}:tmp:pimport:{prop}", f"{tag}:tmp:pimport-and:{prop}"
        pipe.set(mask, bitmap_from_offsets(offsets), ex=self.store.temp_ttl)
        for old in sorted(text(v) for v in present):
            key = f"{tag}:p:{prop}:{old}"
            pipe.execute_command("BITOP", "AND", both, key, mask)
            pipe.execute_command("BITOP", "XOR", key, key, both)
        for value in sorted(set(values)):
            pipe.set(mask, bitmap_from_offsets(offsets[values == value]), ex=self.store.temp_ttl)
            key = f"{tag}:p:{prop}:{value}"
            pipe.execute_command("BITOP", "OR", key, key, mask)
            pipe.sadd(f"{tag}:pv:{prop}", value)
        pipe.execute_command("DEL", mask, both)

    def check_write(self, properties: object, *, allow_none: bool) -> dict[str, str | None]:
        if not isinstance(properties, Mapping):
            raise InvalidValue("properties must be a dict of name -> value", field="properties")
        if len(properties) > MAX_PROPERTIES_PER_WRITE:
            raise InvalidValue(
                f"at most {MAX_PROPERTIES_PER_WRITE} properties per write", field="properties"
            )
        checked: dict[str, str | None] = {}
        for prop, value in properties.items():
            name = check_property(prop)
            checked[name] = None if value is None and allow_none else check_value(value, name)
        return checked

    def expand(self, rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
        """Mark rows with event properties (``(event, id, when, {prop: value})``)
        as plain rows: the event itself, and per property its restricted event."""
        plain: list[tuple[Any, ...]] = []
        pending: list[tuple[Any, Any, Any, dict[str, str | None]]] = []
        for number, row in enumerate(rows):
            if len(row) == 4 and row[3]:
                event, external, when, props = row
                try:
                    checked = self.check_write(props, allow_none=False)
                except ValueError as exc:
                    raise type(exc)(f"row {number}: {exc}") from None
                pending.append((event, external, when, checked))
            plain.append(tuple(row[:3]) if len(row) == 4 else tuple(row))
        if not pending:
            return plain
        wanted: dict[str, set[str]] = {}
        for _, _, _, props in pending:
            for prop, value in props.items():
                wanted.setdefault(prop, set()).add(str(value))
        stored = self.accept("event", wanted)
        self.note_carriers({(prop, str(e)) for e, _, _, props in pending for prop in props})
        for event, external, when, props in pending:
            for prop, value in props.items():
                name = restricted_name(str(event), prop, stored[(prop, str(value))])
                plain.append((name, external, when))
        return plain

    def note_carriers(self, pairs: set[tuple[str, str]]) -> None:
        new = pairs - self.carriers
        if not new:
            return

        def build(pipe: Any) -> None:
            for prop, event in sorted(new):
                pipe.sadd(self.events_key(prop), event)

        run_pipeline(self.store.client, build, ())
        self.carriers |= new

    def delete_all(self) -> None:
        """Delete every property bitmap and the property registry."""
        store = self.store
        props = list(self.names())
        keys = [self.kinds_key()]
        for prop in props:
            keys += [self.values_key(prop), self.events_key(prop)]
            raw = store.client.smembers(self.values_key(prop))
            values = [text(v) for v in raw]
            for chunk in store.chunks():
                tag = store.keys.tag(chunk)
                keys.append(f"{tag}:pv:{prop}")
                keys += [f"{tag}:p:{prop}:{v}" for v in values]
        store.delete_keys(keys)
        self.forget()

    # -- reads --------------------------------------------------------------------------
    def where(self, filters: Mapping[str, object]) -> Bitmap:
        """Ids whose person properties have these values now (several: all of them)."""
        if not filters:
            raise InvalidExpression("where() needs at least one property=value")
        parts: list[Bitmap] = []
        for prop, value in filters.items():
            name = check_property(prop)
            kind = self.kind_of(name)
            if kind != "person":
                raise InvalidExpression(
                    f"{name!r} is an event property: break an event down by it, or filter "
                    f"with the event {restricted_name('EVENT', name, 'VALUE')!r}"
                )
            parts.append(PropertyBitmap(self.store, name, check_value(value, name)))
        result = parts[0]
        for part in parts[1:]:
            result = result & part
        return result

    def split(self, bitmap: Bitmap, prop: str) -> dict[str, Bitmap]:
        """``bitmap`` restricted to each value of ``prop``: the ids holding the value
        (person), or the events carrying it restricted to it (event)."""
        kind = self.kind_of(check_property(prop))
        values = self.values(prop)
        if kind == "person":
            return {v: bitmap & PropertyBitmap(self.store, prop, v) for v in values}
        carriers = self.carrying(prop)
        parts = {v: restrict(bitmap, prop, v, carriers) for v in values}
        if values and all(part.signature == bitmap.signature for part in parts.values()):
            raise InvalidExpression(
                f"no event of {bitmap.signature} carries the event property {prop!r} "
                f"(carried by: {', '.join(sorted(carriers)) or 'none'})"
            )
        return parts

    def count_values(self, bitmap: Bitmap, prop: str, values: list[str]) -> dict[str, int]:
        """How many ids of ``bitmap`` hold each value of person property ``prop``:
        one ``COUNT_VALUES`` call per chunk, all in one round trip."""
        store = self.store
        chunks = store.chunks()
        calls: list[int] = []

        def build(pipe: Any) -> None:
            memo: Memo = {}
            for chunk in chunks:
                base = bitmap.compile(chunk, pipe, memo)
                tag = store.keys.tag(chunk)
                keys = [base, *(f"{tag}:p:{prop}:{v}" for v in values)]
                calls.append(len(pipe))
                COUNT_VALUES.queue(pipe, keys, [f"{tag}:tmp:count-values"])

        replies = store.run(build, scripts=(COUNT_VALUES,)) if chunks else []
        totals = np.zeros(len(values), dtype=np.int64)
        for at in calls:
            totals += np.asarray(replies[at], dtype=np.int64)
        return {v: int(n) for v, n in zip(values, totals, strict=True)}

    def breakdown(self, bitmap: Bitmap, prop: str, top: int | None = None) -> dict[str, int]:
        """``{value: count}`` of ``bitmap`` per value of ``prop``, largest first; with
        ``top``, the values beyond it counted together as ``$other``."""
        bitmap.check_bound()
        if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
            raise InvalidValue("top must be an int >= 1", field="top")
        parts = self.split(bitmap, prop)
        values = list(parts)
        if self.kinds[prop] == "person" and values:
            counts = self.count_values(bitmap, prop, values)
        else:
            counts = dict(zip(values, self.store.count_bitmaps(list(parts.values())), strict=True))
        ranked = sorted(values, key=lambda v: (v == OTHER, -counts[v], v))
        if top is None or len(ranked) <= top:
            return {v: counts[v] for v in ranked}
        kept, rest = ranked[:top], ranked[top:]
        result = {v: counts[v] for v in kept if v != OTHER}
        if self.kinds[prop] == "person":
            result[OTHER] = sum(counts[v] for v in rest) + counts.get(OTHER, 0) * (OTHER in kept)
        else:  # one id can hold several values of an event property: count the union
            [result[OTHER]] = self.store.count_bitmaps(
                [union([parts[v] for v in rest] + ([parts[OTHER]] if OTHER in kept else []))]
            )
        return result


def restrict(bitmap: Bitmap, prop: str, value: str, carriers: set[str]) -> Bitmap:
    """``bitmap`` with each event that carries ``prop`` restricted to ``value``: the
    positive side of a difference only (``purchase - refund`` by the purchase's source)."""
    if isinstance(bitmap, EventBitmap):
        if bitmap.name in carriers:
            return EventBitmap(
                bitmap.store, restricted_name(bitmap.name, prop, value), bitmap.period
            )
        return bitmap
    if isinstance(bitmap, BitOp):
        return BitOp(
            bitmap.store, bitmap.op, [restrict(o, prop, value, carriers) for o in bitmap.operands]
        )
    if isinstance(bitmap, Difference):
        left, right = bitmap.operands
        return Difference(restrict(left, prop, value, carriers), right)
    return bitmap


class PropertyMarking(Marking):
    """The property methods of :class:`~.analytics.Analytics` (mixed in), and its
    marking methods taking ``properties=`` (event properties)."""

    properties: PropertyRegistry
    policy: Policy

    #: Provided by the bulk importer's mixin, beside this one in the facade.
    import_arrays: Callable[..., int]

    def mark(
        self,
        event: str,
        id: ExternalId,
        when: When = None,
        *,
        granularities: Sequence[str] | None = None,
        track_unique: bool = False,
        properties: Mapping[str, object] | None = None,
    ) -> None:
        """Mark that ``id`` did ``event`` at ``when`` (default now), with the event
        properties it carried (``{"source": "ads"}``), in one round trip."""
        row: tuple[Any, ...] = (event, id, when, properties) if properties else (event, id, when)
        self.mark_many([row], granularities=granularities, track_unique=track_unique)

    def prepare_marks(
        self,
        rows: Iterable[Row],
        *,
        granularities: Sequence[str] | None = None,
        track_unique: bool = False,
        value: int = 1,
    ) -> Prepared | None:
        """Rows may carry event properties as a fourth item: ``(event, id, when, {...})``."""
        expanded = self.properties.expand(rows) if value else rows
        return super().prepare_marks(
            expanded,
            granularities=granularities,
            track_unique=track_unique,
            value=value,
        )

    def set_properties(self, id: ExternalId, properties: Mapping[str, object]) -> None:
        """Set the person properties of ``id`` (its current values; ``None`` clears
        one): the id leaves its previous value of each. One round trip.

        >>> pp.set_properties(7, {"plan": "pro", "country": "FR"})
        """
        self.properties.set_person(id, properties)

    def import_properties(self, name: str, ids: Any, values: Any) -> int:
        """Set person property ``name`` of many ids at once (``values[i]`` for ``ids[i]``)."""
        return self.properties.import_person(name, ids, values)

    def check_properties(self, properties: object) -> dict[str, str | None]:
        """Event properties checked without writing (``ValueError`` on bad ones)."""
        return self.properties.check_write(properties, allow_none=False)

    def import_event_property(
        self,
        event: str,
        name: str,
        ids: Any,
        timestamps: Any,
        values: Any,
        *,
        granularities: Sequence[str] | None = None,
    ) -> int:
        """Bulk import of an event property: ``ids[i]`` did ``event`` at
        ``timestamps[i]`` carrying ``name = values[i]`` (the event itself is
        imported with :meth:`import_arrays`; this writes the restricted events)."""
        prop = check_property(name)
        checked = np.asarray([check_value(v, prop) for v in values], dtype=object)
        if not len(checked) == len(ids) == len(timestamps):
            raise InvalidValue("ids, timestamps and values differ in length", field="values")
        stored = self.properties.accept("event", {prop: sorted(set(checked.tolist()))})
        self.properties.note_carriers({(prop, self.policy.name(event))})
        kept = np.asarray([stored[(prop, v)] for v in checked.tolist()], dtype=object)
        ids_array, stamps = np.asarray(ids), np.asarray(timestamps)
        written = 0
        for value in sorted(set(kept.tolist())):
            picked = kept == value
            written += self.import_arrays(
                restricted_name(event, prop, value),
                ids_array[picked],
                stamps[picked],
                granularities=granularities,
            )
        return written

    def where(self, **filters: object) -> Bitmap:
        """Ids whose person properties have these values now: ``where(plan="pro")``."""
        return self.properties.where(filters)

    def property_names(self) -> dict[str, str]:
        """Every property and its kind (``"person"`` or ``"event"``)."""
        return self.properties.names()

    def property_kind(self, name: str) -> str:
        """``"person"`` or ``"event"``; raises ``InvalidValue`` for an unknown property."""
        return self.properties.kind_of(name)

    def property_values(self, name: str) -> list[str]:
        """The values of property ``name`` (``"$other"`` last, if any went there)."""
        return self.properties.values(name)

    def breakdown(self, bitmap: Bitmap, name: str, top: int | None = None) -> dict[str, int]:
        return self.properties.breakdown(bitmap, name, top)

    def split_by(self, bitmap: Bitmap, name: str) -> dict[str, Bitmap]:
        """``bitmap`` restricted to each value of property ``name``."""
        return self.properties.split(bitmap, name)
