"""Bitmaps and lazy bit-operation expressions over them.

A :class:`Bitmap` is a set of ids: the ids that did an event in one period
(:class:`EventBitmap`), the holders of a unique event (:class:`UniqueBitmap`),
every id ever seen (:class:`UniverseBitmap`), or an expression combining them
with ``&``, ``|``, ``^``, ``-`` (difference) and ``~`` (complement within the
universe). Nothing touches Redis until a result is asked for; then the whole
expression is evaluated server-side, chunk by chunk, in one pipeline: one
``BITOP`` per operator into a temporary key that expires by itself, then one
read per chunk.

>>> active = pp.event("active")
>>> pp.mark("active", 123, pp.now() - dt.timedelta(days=1))
>>> pp.mark("active", 123)
>>> kept = active.day(-1) & active.day(0)       # nothing sent yet
>>> len(kept), 123 in kept                      # one round trip each
(1, True)
"""

from __future__ import annotations

import array
import functools
import hashlib
import secrets
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from porpoise_django.engine.errors import InvalidExpression
from porpoise_django.engine.storage.bitarrays import offsets_from_bitmap
from porpoise_django.engine.time.periods import Period

if TYPE_CHECKING:
    from porpoise_django.engine.storage.store import Store

Memo = dict[str, str]
#: The deepest expression accepted: deep enough for any real query, far from
#: Python's recursion limit (the evaluation recurses once per level).
MAX_DEPTH = 100


class Bitmap:
    """Base of every set of ids; see the module docstring."""

    def __init__(self, store: Store) -> None:
        self.store = store

    #: Levels of operators below and including this one (a plain bitmap: 0).
    depth = 0

    # -- to be provided by subclasses -------------------------------------------
    @property
    def signature(self) -> str:
        """Canonical text of the expression; equal signatures mean equal sets."""
        raise NotImplementedError

    def compile(self, chunk: int, pipe: Any, memo: Memo) -> str:
        """Queue what it takes to have this set for ``chunk`` in a key; return that key."""
        raise NotImplementedError

    def bind(self, when: Any) -> Bitmap:
        """A copy with every period-less event bound to ``when`` (a Period or time)."""
        return self

    @property
    def is_bound(self) -> bool:
        """False while an event in the expression has no period yet."""
        return True

    # -- operators (lazy) -----------------------------------------------------------
    def __and__(self, other: Bitmap) -> Bitmap:
        return BitOp.make("AND", self, other)

    def __or__(self, other: Bitmap) -> Bitmap:
        return BitOp.make("OR", self, other)

    def __xor__(self, other: Bitmap) -> Bitmap:
        return BitOp.make("XOR", self, other)

    def __sub__(self, other: Bitmap) -> Bitmap:
        return Difference(self, other)

    def __invert__(self) -> Bitmap:
        return Difference(UniverseBitmap(self.store), self)

    def __call__(self, when: Any) -> Bitmap:
        """Porpoise style: ``(events('login') & events('played'))(period)``."""
        return self.bind(when)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Bitmap):
            return NotImplemented
        return self.signature == other.signature and self.store is other.store

    def __hash__(self) -> int:
        return hash(self.signature)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.signature}>"

    def check_bound(self) -> None:
        if not self.is_bound:
            raise InvalidExpression(
                f"{self.signature} has an event without a period: call .bind(period) first"
            )

    # -- evaluation: one pipeline each ------------------------------------------
    def count(self) -> int:
        """Number of ids in the set (sum of BITCOUNT over chunks)."""
        return self.store.count_bitmaps([self])[0]

    def __len__(self) -> int:
        return self.count()

    def has_events_marked(self) -> bool:
        """Whether any id is in the set."""
        return self.count() > 0

    def __contains__(self, external: object) -> bool:
        return self.store.contains(self, external)

    def breakdown(self, name: str, top: int | None = None) -> dict[str, int]:
        """``{value: count}`` of this set per value of property ``name``, largest
        first (``top``: the rest as ``"$other"``), in one round trip.

        Example::

            pp.event("active").day().breakdown("plan")      # {'pro': 120, 'free': 880}
        """
        return self.store.breakdown(self, name, top)

    def indexes(self) -> np.ndarray:
        """Bit indexes of the members as a sorted int64 array (decoded with numpy)."""
        self.check_bound()
        store = self.store
        chunks = store.chunks()
        size = store.keys.chunk_size
        [values] = store.read_chunks([self], chunks, lambda pipe, key, chunk: pipe.get(key))
        parts = [
            offsets_from_bitmap(raw) + chunk * size
            for chunk, raw in zip(chunks, values, strict=True)
            if raw
        ]
        if not parts:
            return np.empty(0, dtype=np.int64)
        return np.concatenate(parts)

    def people(self, offset: int = 0, limit: int = 100) -> Any:
        """A page of the members as user ids, and their total (see ``Analytics.people``)."""
        return self.store.people(self, offset, limit)

    def save_as(self, name: str) -> UniqueBitmap:
        """Save the members now as segment ``name``, a unique event (see ``segments``)."""
        return self.store.save_segment(self, name)

    def ids(self) -> np.ndarray | list[str]:
        """Members as user ids: an int64 numpy array (int mode) or strings (map mode)."""
        return self.store.id_codec.to_externals(self.indexes())

    def __iter__(self) -> Iterator[Any]:
        ids = self.ids()
        if isinstance(ids, np.ndarray):
            # An array.array makes each Python int as it is reached: about twice
            # as fast as ndarray.tolist(), which builds them all up front.
            return iter(array.array("q", ids.astype(np.int64, copy=False).tobytes()))
        return iter(ids)


def _digest(signature: str) -> str:
    return hashlib.sha1(signature.encode()).hexdigest()[:20]


class EventBitmap(Bitmap):
    """Ids that did event ``name`` in ``period`` (``period`` None: bind later)."""

    def __init__(self, store: Store, name: str, period: Period | None) -> None:
        super().__init__(store)
        self.name = name
        self.period = period

    @property
    def signature(self) -> str:
        if self.period is None:
            return f"e:{self.name}:?"
        return f"e:{self.name}:{self.period.code}:{self.period.key}"

    @property
    def is_bound(self) -> bool:
        return self.period is not None

    def bind(self, when: Any) -> Bitmap:
        if self.period is not None:
            return self
        if not isinstance(when, Period):
            raise InvalidExpression("bind() takes a Period, e.g. pp.period('day', date)")
        return EventBitmap(self.store, self.name, when)

    def compile(self, chunk: int, pipe: Any, memo: Memo) -> str:
        self.check_bound()
        assert self.period is not None
        # Every reader comes here before anything is sent.
        self.store.check_tracked(self.period.granularity)
        return self.store.keys.event(self.name, self.period, chunk)

    def _bound_period(self) -> Period:
        self.check_bound()
        assert self.period is not None
        return self.period

    # bitmapist-style navigation
    def delta(self, steps: int) -> EventBitmap:
        """The same event ``steps`` periods later (negative: earlier)."""
        return EventBitmap(self.store, self.name, self._bound_period().delta(steps))

    def next(self) -> EventBitmap:
        return self.delta(1)

    def prev(self) -> EventBitmap:
        return self.delta(-1)

    def period_start(self) -> Any:
        return self._bound_period().period_start()

    def period_end(self) -> Any:
        return self._bound_period().period_end()

    def delete(self) -> None:
        """Delete this event's bitmap for this period, in every chunk."""
        period = self._bound_period()
        self.store.delete_keys(
            [self.store.keys.event(self.name, period, c) for c in self.store.chunks()]
        )


class UniqueBitmap(Bitmap):
    """Ids marked with a unique (time-less) event, e.g. ``premium``."""

    def __init__(self, store: Store, name: str) -> None:
        super().__init__(store)
        self.name = name

    @property
    def signature(self) -> str:
        return f"u:{self.name}"

    def compile(self, chunk: int, pipe: Any, memo: Memo) -> str:
        return self.store.keys.unique(self.name, chunk)

    def delete(self) -> None:
        """Delete this unique event in every chunk."""
        self.store.delete_keys([self.store.keys.unique(self.name, c) for c in self.store.chunks()])


class UniverseBitmap(Bitmap):
    """Every id ever marked with any event: the bound of ``~``."""

    @property
    def signature(self) -> str:
        return "all"

    def compile(self, chunk: int, pipe: Any, memo: Memo) -> str:
        return self.store.keys.universe(chunk)


class _Derived(Bitmap):
    """An expression whose result is kept in a temporary key per chunk."""

    operands: tuple[Bitmap, ...]

    def _set_operands(self, operands: Sequence[Bitmap]) -> None:
        self.operands = tuple(operands)
        self.depth = 1 + max(o.depth for o in self.operands)
        if self.depth > MAX_DEPTH:
            raise InvalidExpression(f"expression nests deeper than {MAX_DEPTH} levels")

    @property
    def is_bound(self) -> bool:
        return all(o.is_bound for o in self.operands)

    def delete(self) -> None:
        """Drop this expression's stored results now (bitmapist's ``BitOp.delete``).

        They expire by themselves after ``temp_ttl`` seconds anyway; results of
        sub-expressions are left to expire.
        """
        digest = _digest(self.signature)
        self.store.delete_keys([self.store.keys.temp(c, digest) for c in self.store.chunks()])

    def _temp_key(self, chunk: int, pipe: Any, memo: Memo, build: Any) -> str:
        signature = self.signature
        cached = memo.get(f"{chunk}:{signature}")
        if cached is not None:
            return cached
        key = self.store.keys.temp(chunk, _digest(signature))
        build(key)
        # Results expire by themselves: nothing leaks if this process dies.
        pipe.expire(key, self.store.temp_ttl)
        memo[f"{chunk}:{signature}"] = key
        return key


class BitOp(_Derived):
    """AND / OR / XOR of two or more sets; nested same operators are flattened."""

    def __init__(self, store: Store, op: str, operands: Sequence[Bitmap]) -> None:
        super().__init__(store)
        self.op = op
        self._set_operands(operands)

    @classmethod
    def make(cls, op: str, left: Bitmap, right: Bitmap) -> Bitmap:
        if not isinstance(right, Bitmap) or not isinstance(left, Bitmap):
            return NotImplemented
        if left.store is not right.store:
            raise InvalidExpression("cannot combine bitmaps of two different Analytics")
        operands: list[Bitmap] = []
        for side in (left, right):
            if isinstance(side, BitOp) and side.op == op:
                operands.extend(side.operands)
            else:
                operands.append(side)
        return cls(left.store, op, operands)

    @functools.cached_property
    def signature(self) -> str:
        # Kept: deep expressions (a funnel's time to convert) would otherwise
        # rebuild every operand's text once per node and chunk.
        return f"{self.op.lower()}({','.join(o.signature for o in self.operands)})"

    def bind(self, when: Any) -> Bitmap:
        return BitOp(self.store, self.op, [o.bind(when) for o in self.operands])

    def compile(self, chunk: int, pipe: Any, memo: Memo) -> str:
        sources = [o.compile(chunk, pipe, memo) for o in self.operands]
        return self._temp_key(
            chunk, pipe, memo, lambda key: pipe.execute_command("BITOP", self.op, key, *sources)
        )


def counts_over(expression: Bitmap, periods: Iterable[Period]) -> list[tuple[Period, int]]:
    """``(period, count)`` of ``expression`` bound to each period, in one round trip."""
    period_list = list(periods)
    counted = expression.store.count_bitmaps([expression.bind(p) for p in period_list])
    return list(zip(period_list, counted, strict=True))


def counts_by(
    expression: Bitmap, periods: Iterable[Period], breakdown: str
) -> dict[str, list[tuple[Period, int]]]:
    """A series per value of property ``breakdown``: ``{value: [(period, count)]}``,
    every count in one round trip."""
    period_list = list(periods)
    parts = expression.store.split_by(expression, breakdown)
    counted = expression.store.count_bitmaps(
        [part.bind(p) for part in parts.values() for p in period_list]
    )
    width = len(period_list)
    return {
        value: list(zip(period_list, counted[k * width : (k + 1) * width], strict=True))
        for k, value in enumerate(parts)
    }


def union(bitmaps: Sequence[Bitmap]) -> Bitmap:
    """The OR of one or more bitmaps (the bitmap itself when there is one)."""
    return bitmaps[0] if len(bitmaps) == 1 else BitOp(bitmaps[0].store, "OR", bitmaps)


class Difference(_Derived):
    """Ids in ``left`` but not in ``right``; ``~x`` is ``universe - x``.

    Computed as ``left XOR (left AND right)``, which stays correct when the two
    bitmaps have different lengths (BITOP NOT would not, and BITOP DIFF needs
    Redis 8.2).
    """

    def __init__(self, left: Bitmap, right: Bitmap) -> None:
        if not isinstance(right, Bitmap):
            raise InvalidExpression("a difference needs two bitmaps")
        if left.store is not right.store:
            raise InvalidExpression("cannot combine bitmaps of two different Analytics")
        super().__init__(left.store)
        self._set_operands((left, right))

    @functools.cached_property
    def signature(self) -> str:
        left, right = self.operands
        if isinstance(left, UniverseBitmap):
            return f"not({right.signature})"
        return f"minus({left.signature},{right.signature})"

    def bind(self, when: Any) -> Bitmap:
        left, right = self.operands
        return Difference(left.bind(when), right.bind(when))

    def compile(self, chunk: int, pipe: Any, memo: Memo) -> str:
        left, right = (o.compile(chunk, pipe, memo) for o in self.operands)
        both = self.store.keys.temp(chunk, _digest("and:" + self.signature))

        def build(key: str) -> None:
            pipe.execute_command("BITOP", "AND", both, left, right)
            pipe.execute_command("BITOP", "XOR", key, left, both)
            pipe.expire(both, self.store.temp_ttl)

        return self._temp_key(chunk, pipe, memo, build)


class Tally(_Derived):
    """Ids in exactly ``k`` of the operands (``at_least``: in ``k`` or more), e.g.
    the users active on exactly 3 days of a week (one bar of stickiness).

    Counted on the server as a binary counter per chunk: each operand is added
    to bit slices ``c0, c1, ...`` (``c_j XOR carry``, ``carry AND c_j``), two
    ``BITOP`` per slice the count can reach so far, then the slices are
    compared with ``k`` (about 40 ``BITOP`` for a week of days, 260 for a month);
    the intermediate keys are the chunk's own, deleted in the same pipeline.

    >>> days = [pp.event("active").day(-i) for i in range(3)]
    >>> pp.mark("active", 5)
    >>> len(Tally(days, 1)), len(Tally(days, 2))
    (1, 0)
    """

    #: The most operands one tally adds up (a month of days is 31).
    MAX_OPERANDS = 400

    def __init__(self, operands: Sequence[Bitmap], k: int, *, at_least: bool = False) -> None:
        operands = list(operands)
        if not operands or len(operands) > self.MAX_OPERANDS:
            raise InvalidExpression(f"a tally adds up 1 to {self.MAX_OPERANDS} bitmaps")
        if any(not isinstance(o, Bitmap) for o in operands):
            raise InvalidExpression("a tally adds up bitmaps")
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(operands):
            raise InvalidExpression(f"k must be an int from 1 to {len(operands)}, got {k!r}")
        store = operands[0].store
        if any(o.store is not store for o in operands):
            raise InvalidExpression("cannot combine bitmaps of two different Analytics")
        super().__init__(store)
        self.k = k
        self.at_least = at_least
        self._set_operands(operands)

    @functools.cached_property
    def signature(self) -> str:
        kind = "atleast" if self.at_least else "exactly"
        return f"{kind}{self.k}({','.join(o.signature for o in self.operands)})"

    def bind(self, when: Any) -> Bitmap:
        return Tally([o.bind(when) for o in self.operands], self.k, at_least=self.at_least)

    def compile(self, chunk: int, pipe: Any, memo: Memo) -> str:
        sources = [o.compile(chunk, pipe, memo) for o in self.operands]
        return self._temp_key(chunk, pipe, memo, lambda key: self._build(chunk, pipe, sources, key))

    def _build(self, chunk: int, pipe: Any, sources: list[str], key: str) -> None:
        # Scratch keys of this evaluation only: the counter's steps are not
        # idempotent, and two processes may evaluate the same tally at once.
        run = f"{_digest(self.signature)}:{secrets.token_hex(6)}"
        temp = self.store.keys.temp
        slices = [temp(chunk, f"{run}:c{j}") for j in range(len(sources).bit_length())]
        scratch = [temp(chunk, f"{run}:{name}") for name in ("s0", "s1", "any", "acc", "out")]
        spares, every, acc, out = scratch[:2], scratch[2], scratch[3], scratch[4]
        for i, source in enumerate(sources):
            carry = source  # read only: the carries go to the two spare keys in turn
            # after i + 1 operands the count fits in (i + 1).bit_length() slices
            for j, c in enumerate(slices[: (i + 1).bit_length()]):
                pipe.execute_command("BITOP", "AND", spares[j % 2], c, carry)
                pipe.execute_command("BITOP", "XOR", c, c, carry)
                carry = spares[j % 2]
        pipe.execute_command("BITOP", "OR", every, *sources)
        wanted = range(self.k, len(sources) + 1) if self.at_least else range(self.k, self.k + 1)
        if self.at_least and self.k == 1:  # in any of them
            out, wanted = every, range(0)
        for n in wanted:
            # ids whose count is n: in slice j where bit j of n is set, else not
            for j, c in enumerate(slices):
                term = c
                if not (n >> j) & 1:
                    term = spares[0]
                    pipe.execute_command("BITOP", "XOR", term, every, c)
                pipe.execute_command("BITOP", "AND", acc, every if j == 0 else acc, term)
            pipe.execute_command("BITOP", "OR", out, out, acc)
        pipe.execute_command("BITOP", "OR", key, out)  # one write: never seen half done
        pipe.execute_command("DEL", *slices, *scratch)
