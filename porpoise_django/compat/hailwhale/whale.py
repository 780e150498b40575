"""hailwhale's ``Whale``: counting, totals, plot points and dimensions over the
engine's metrics (ranking and decisions: :mod:`.reasons`).

A primary key is a name (``"my_counter"``) or a list (``["Product", "123"]``);
a count under a list counts under each of its prefixes too (``"Product"`` and
``"Product/123"``), as hailwhale does. Dimensions are a dict (nested dicts
nest), one value (``"country"``), or a list path (``["country", "US"]``).
Rows are keyed as hailwhale keys them: ``"_"`` for everything, ``"country"``
for one level, ``'["country", "US"]'`` (JSON) for deeper ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import redis

from porpoise_django.compat.hailwhale.keys import (
    ROOTS,
    key_of,
    parent_of,
    path_of,
    try_loads,
    value_of,
)
from porpoise_django.compat.hailwhale.periods import (
    DEFAULT_PERIODS,
    label,
    span_seconds,
    translate_period,
)
from porpoise_django.compat.hailwhale.reasons import Reasons
from porpoise_django.engine import (
    Analytics,
    Decision,
    Metric,
    PeriodRange,
)

#: How long ``cached_*`` answers are kept at most (hailwhale: a fifth of a bucket).
MAX_CACHE_SECONDS = 3600


def _parts(pk: Any) -> list[str]:
    value = try_loads(pk) if isinstance(pk, str) else pk
    parts = [value] if isinstance(value, (str, int)) else list(value or [])
    if not parts:
        raise ValueError("a primary key (categories) is needed, e.g. 'my_counter'")
    # Hash-tag braces are dropped: every metric has its own.
    return [str(p).replace("{", "").replace("}", "") for p in parts]


def name_of(pk: Any) -> str:
    """The metric name of a primary key: ``"a"``, ``["Product", "123"]`` as ``"Product/123"``."""
    return "/".join(_parts(pk))


def names_of(pk: Any) -> list[str]:
    """The metrics a count under ``pk`` goes to: each prefix of a list key."""
    parts = _parts(pk)
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def dimensions_of(dimensions: Any) -> Any:
    """What to count under: hailwhale's "no dimension" spellings as None, JSON text
    decoded, a dict or a path as given."""
    value = try_loads(dimensions) if isinstance(dimensions, str) else dimensions
    if value in ROOTS:
        return None
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return str(value) if isinstance(value, int) else value


def metric_list(metrics: Any, metric: Any = None) -> list[str]:
    """Metric names asked for: a name, a list, or hailwhale's ``{"revenue": "hits"}``
    (``revenue/hits``); ``hits`` by default."""
    chosen = metrics if metrics is not None else metric
    if chosen is None or chosen == [] or chosen == {}:
        return ["hits"]
    if isinstance(chosen, str):
        return [chosen]
    if isinstance(chosen, Mapping):
        return [k if v in (1, None, "") else f"{k}/{v}" for k, v in chosen.items()]
    return [str(m) for m in chosen]


def increments_of(metrics: Any, metric: Any = None) -> dict[str, float]:
    chosen = metrics if metrics is not None else metric
    if not chosen:
        return {}
    if isinstance(chosen, (list, tuple)):
        return dict.fromkeys(chosen, 1)
    return dict(chosen)


def ratio(values: Mapping[str, float], metric: str) -> float | int:
    """A metric or ``a/b`` of summed values; a ratio over nothing is 0, as hailwhale."""
    if "/" not in metric:
        return _number(values.get(metric, 0))
    top, bottom = metric.split("/", 1)
    below = values.get(bottom, 0)
    return values.get(top, 0) / below if below else 0


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def as_utc(at: Any) -> Any:
    """hailwhale's times are naive UTC (``datetime.utcnow()``); epoch seconds work too."""
    if at in (None, False, ""):
        return None
    if isinstance(at, (int, float)):
        return dt.datetime.fromtimestamp(at, dt.UTC)
    return at.replace(tzinfo=dt.UTC) if isinstance(at, dt.datetime) and at.tzinfo is None else at


class Whale(Reasons):
    """hailwhale's ``Whale``: call its methods on the class (or an instance).

    The store is built on first use from ``whale_driver_settings`` (redis-py
    keyword arguments, as hailwhale), or set with :meth:`use` (for example
    ``Whale.use(porpoise_django.services.get_analytics())``).
    """

    whale_driver_settings: ClassVar[dict[str, Any]] = {}
    #: What the README's ``decide`` judges by when no ``by_metric`` is given.
    formula: ClassVar[str] = "revenue/visitors"
    _store: ClassVar[Analytics | None] = None

    @classmethod
    def use(cls, store: Analytics) -> None:
        """Count into (and read from) ``store``."""
        Whale._store = store

    @classmethod
    def has_store(cls) -> bool:
        return Whale._store is not None

    @classmethod
    def store(cls) -> Analytics:
        if Whale._store is None:
            Whale._store = Analytics(
                redis.Redis(**cls.whale_driver_settings),
                prefix="pp",
                tz="UTC",
                counter_granularities=("minute", "hour", "day", "week", "month"),
            )
        return Whale._store

    @classmethod
    def whale_driver(cls) -> Any:
        """The redis-py client under the store."""
        return cls.store().client

    @classmethod
    def _metric(cls, pk: Any) -> Metric:
        return cls.store().metric(name_of(pk), empty_ratio=0)

    @classmethod
    def _range(cls, handle: Metric, period: Any, tzoffset: Any = None) -> PeriodRange:
        text = None if period is None else str(period)
        if tzoffset not in (None, 0, 0.0, "", "0") and text is not None and "|" not in text:
            text = f"{text}|{tzoffset}"
        return handle.resolve_range(translate_period(cls.store(), text))

    # -- counting -------------------------------------------------------------------------
    @classmethod
    def count_now(
        cls,
        pk: Any,
        dimensions: Any = "_",
        metrics: Any = None,
        at: Any = False,
        *,
        metric: Any = None,
    ) -> None:
        """Count ``metrics`` (plus ``hits``) now or ``at`` (naive is UTC), under every
        prefix of ``pk`` and every level of ``dimensions``."""
        values = increments_of(metrics, metric)
        dims = dimensions_of(dimensions)
        when = as_utc(at)
        store = cls.store()
        for name in names_of(pk):
            store.metric(name).count(values, dims, when)

    @classmethod
    def count_decided_now(
        cls, pk_base: Any, decision: Any, option: Any, *args: Any, **kw: Any
    ) -> None:
        """``count_now([pk_base, decision, option], ...)``: what ``weighted_reasons`` reads."""
        cls.count_now([*_parts(pk_base), str(decision), str(option)], *args, **kw)

    @classmethod
    def reset(cls, pk: Any, dimensions: Any = None, metrics: Any = None) -> None:
        """Delete everything counted under ``pk`` itself (its prefixes keep theirs)."""
        cls._metric(pk).delete()

    # -- dimensions -----------------------------------------------------------------------
    @classmethod
    def get_subdimensions(cls, pk: Any, dimension: Any = "_") -> list[Any]:
        """The dimensions one level below ``dimension``: ``"a"``, ``["a", "1"]``..."""
        return [value_of(p) for p in cls._metric(pk).children(path_of(dimension), 1)]

    @classmethod
    def all_subdimensions(cls, pk: Any, dimension: Any = "_") -> list[Any]:
        """``dimension`` itself, then every dimension below it, each followed by its own."""
        base = path_of(dimension)
        below = cls._metric(pk).children(base, 8)
        ordered: list[str] = []

        def walk(path: str) -> None:
            ordered.append(path)
            for child in sorted(p for p in below if parent_of(p) == path):
                walk(child)

        walk(base)
        return [value_of(p) for p in ordered]

    @classmethod
    def sums(
        cls, pk: Any, paths: Sequence[str], metrics: Sequence[str], period: Any = None
    ) -> list[dict[str, float]]:
        """Each path's metrics summed over ``period``, one round trip."""
        handle = cls._metric(pk)
        buckets = handle.cover_range(cls._range(handle, period))
        wanted = {part for m in metrics for part in m.split("/")}
        summed = handle.sum_groups([(path, buckets) for path in paths])
        return [{m: v for m, v in values.items() if m in wanted} for values in summed]

    # -- reading --------------------------------------------------------------------------
    @classmethod
    def plotpoints(
        cls,
        pk: Any,
        dimensions: Any = None,
        metrics: Any = None,
        period: Any = None,
        depth: int = 0,
        overall: bool = False,
        points_type: type = dict,
        *,
        metric: Any = None,
        limit: int = 0,
        sort: str | None = None,
        flot_time: bool = False,
        tzoffset: Any = None,
        descending: bool = False,
    ) -> dict[str, dict[str, Any]]:
        """``{row: {metric: points}}`` for ``dimensions`` and ``depth`` levels below
        (``overall`` adds the ``"_"`` row): points ``{label: value}`` (labels
        ``M/D/YY``), or with ``points_type=list`` / ``flot_time`` ``[[epoch ms, value]]``;
        ``limit`` keeps the rows with the most ``sort`` (default: the first metric)."""
        handle = cls._metric(pk)
        names = metric_list(metrics, metric)
        span = cls._range(handle, period, tzoffset)
        base = path_of(dimensions)
        rows = [base, *(handle.children(base, depth) if depth else [])]
        if overall and base:
            rows.insert(0, "")
        as_list = flot_time or points_type is list
        out: dict[str, dict[str, Any]] = {}
        scores: dict[str, float] = {}
        order = sort or f"-{names[0]}"
        ranked = order.lstrip("-+")
        for row in rows:
            points = handle.series(span, sorted({*names, ranked}), row)
            if descending:
                points.reverse()
            out[key_of(row)] = {n: _points(points, n, as_list) for n in names}
            scores[key_of(row)] = sum(float(values[ranked] or 0) for _, values in points)
        if limit:
            kept = sorted(scores, key=scores.__getitem__, reverse=order.startswith("-"))[:limit]
            out = {k: v for k, v in out.items() if k in kept or k == key_of(base)}
        return out

    @classmethod
    def total(
        cls,
        pk: Any,
        metric: str = "hits",
        dimension: Any = "_",
        period: Any = None,
        index: int | None = None,
        tzoffset: Any = None,
        *,
        dimensions: Any = None,
    ) -> float | int:
        """One metric (or ratio) summed over ``period`` (default: thirty days), or
        with ``index`` the value of one of its buckets (-1: the last)."""
        path = path_of(dimension if dimensions is None else dimensions)
        handle = cls._metric(pk)
        span = cls._range(handle, period, tzoffset)
        if index is not None:
            points = handle.series(span, [metric], path)
            value = points[index][1][metric]
        else:
            value = handle.totals(span, [metric], path)[metric]
        return 0 if value is None else value

    @classmethod
    def totals(
        cls,
        pk: Any,
        dimensions: Any = None,
        metrics: Any = None,
        periods: Any = None,
        tzoffset: Any = 0,
        *,
        period: Any = None,
        metric: Any = None,
        depth: int = 0,
        overall: bool = False,
    ) -> dict[str, Any]:
        """hailwhale's ``{period: {row: {metric: total}}}`` for ``periods`` (default:
        its five, ``"1d:1y"`` to ``"1m:1h"``); with one ``period=`` (the README's
        call) ``{row: {metric: total}}``."""
        names = metric_list(metrics, metric)
        handle = cls._metric(pk)
        base = path_of(dimensions)
        rows = [base, *(handle.children(base, depth) if depth else [])]
        if overall and base:
            rows.insert(0, "")

        def one(span: Any) -> dict[str, dict[str, float | int]]:
            sums = cls.sums(
                pk, rows, names, span if tzoffset in (0, None) else f"{span}|{tzoffset}"
            )
            return {
                key_of(r): {n: ratio(v, n) for n in names} for r, v in zip(rows, sums, strict=True)
            }

        if period is not None:
            return one(period)
        chosen = [periods] if isinstance(periods, str) else list(periods or DEFAULT_PERIODS)
        return {str(p): one(p) for p in chosen}

    @classmethod
    def cached(cls, name: str, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
        """``cls.<name>(*args, **kwargs)``, kept in Redis for a fifth of a bucket
        (a minute at most without a period); ``unmemoize=True`` asks again."""
        fresh = kwargs.pop("unmemoize", False)
        store = cls.store()
        text = json.dumps([name, list(args), kwargs], sort_keys=True, default=str)
        key = f"{store.keys.prefix}:hw:cache:{hashlib.sha1(text.encode()).hexdigest()}"
        if not fresh:
            hit = store.client.get(key)
            if hit is not None:
                return json.loads(hit)
        value = getattr(cls, name)(*args, **kwargs)
        seconds = span_seconds(store, kwargs["period"]) / 5 if "period" in kwargs else 60
        store.client.set(key, json.dumps(value), ex=max(1, int(min(seconds, MAX_CACHE_SECONDS))))
        return value

    @classmethod
    def cached_plotpoints(cls, *args: Any, **kwargs: Any) -> Any:
        return cls.cached("plotpoints", args, kwargs)

    @classmethod
    def cached_totals(cls, *args: Any, **kwargs: Any) -> Any:
        return cls.cached("totals", args, kwargs)

    @classmethod
    def cached_rank(cls, *args: Any, **kwargs: Any) -> Any:
        return cls.cached("rank", args, kwargs)

    # -- the README's decisions (the engine's Thompson sampling) -------------------------
    @classmethod
    def _decision(cls, pk: Any, key: str | None) -> Decision:
        name = name_of(pk) if key is None else f"{name_of(pk)}/{key}"
        return cls.store().decision(name)

    @classmethod
    def count_decision(
        cls,
        pk: Any,
        decided: Mapping[str, Any] | None = None,
        metric: Mapping[str, float] | None = None,
        dimensions: Mapping[str, Any] | None = None,
        at: dt.datetime | None = None,
        *,
        metrics: Mapping[str, float] | None = None,
        option: Any = None,
    ) -> None:
        """Record the metrics of a decision: ``decided={"language": "EN"}`` (or
        ``option="b"``, as hailwhale's HTTP call) under ``dimensions``."""
        if decided is None and option is None:
            raise ValueError("say what was decided: decided={'language': 'EN'} or option='b'")
        choices = dict(decided or {}) if option is None else {None: option}
        when = as_utc(at)
        values = dict(metric or metrics or {})
        for key, chosen in choices.items():
            cls._decision(pk, key).record(
                chosen, dimensions_of(dimensions), metrics=values, when=when
            )

    @classmethod
    def decide(
        cls,
        pk: Any,
        decision: Any = None,
        options: Any = None,
        formula: str | None = None,
        known_data: Any = None,
        period: Any = None,
        bad_idea_threshold: float = 0.05,
        test_idea_threshold: float = 0.05,
        *,
        known_dimensions: Mapping[str, Any] | None = None,
        dimensions: Mapping[str, Any] | None = None,
        by_metric: str | None = None,
        seed: int | None = None,
    ) -> Any:
        """Two forms, as hailwhale has both. ``decide(pk, "slogan", ["a", "b"],
        formula="dollars/visitors", known_data={...})`` weighs the reasons of each
        option counted with ``count_decided_now`` (hailwhale's code);
        ``decide(pk, options={"language": ["EN", "SP"]}, known_dimensions={...})``
        and ``decide(pk, ["a", "b"], {...})`` pick by the decisions recorded with
        ``count_decision`` (its README), by Thompson sampling on ``by_metric``."""
        listed = decision if isinstance(decision, (Mapping, list, tuple)) else None
        if listed is None and decision is not None and options is not None:
            return cls.decide_by_reasons(
                pk, decision, options, formula or "value/hits", known_data, period,
                bad_idea_threshold, test_idea_threshold, seed,
            )  # fmt: skip
        if listed is not None:  # the README's decide(pk, options, known_dimensions)
            if options is not None and known_dimensions is None:
                known_dimensions = options
            options = listed
        known = dimensions_of(known_dimensions if known_dimensions is not None else dimensions)
        by = by_metric or formula or cls.formula
        if isinstance(options, Mapping):
            return {
                key: cls._pick(cls._decision(pk, key), list(choices), known, by, seed)
                for key, choices in options.items()
            }
        return cls._pick(cls._decision(pk, None), list(options or []), known, by, seed)

    @staticmethod
    def _pick(decision: Decision, choices: list[Any], known: Any, by: str, seed: int | None) -> Any:
        picked = decision.decide([str(c) for c in choices], known, by=by, seed=seed)
        return next(c for c in choices if str(c) == picked)  # the caller's own object


def _points(points: list[Any], name: str, as_list: bool) -> Any:
    if as_list:
        return [[int(p.start.timestamp() * 1000), values[name]] for p, values in points]
    return {label(p.start, p.granularity): values[name] for p, values in points}
