"""Analyses the peers lack: lifecycle, stickiness and decisions (bandits).

Lifecycle (PostHog's definitions), per period ``t`` of an event:

- **new**: did it in ``t`` for the first time ever;
- **returning**: did it in ``t`` and in ``t - 1``;
- **resurrecting**: did it in ``t``, not in ``t - 1``, but at some time before;
- **dormant**: did it in ``t - 1`` but not in ``t`` (a loss, reported negative).

Stickiness: of the users who did an event in a week or month, how many did
it on exactly (and on at least) ``n`` of its days.

Decisions (hailwhale's ``decide``, made sound): record which option of a
choice was shown and whether it succeeded, per dimensions; ``decide`` picks
an option by Thompson sampling on the success rate, from the most specific
dimension with enough data (else the overall rate), and never starves an
option; ``report`` gives each option's rate, 95% interval and probability of
being the best.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .bitmaps import Bitmap
from .cohorts import history_before, history_start
from .errors import InvalidGranularity, InvalidValue
from .events import Event
from .metrics import Metric, check_path, dimension_paths
from .names import validate_name
from .periods import Period, PeriodRange
from .values import plain

if TYPE_CHECKING:
    from .store import Store

LIFECYCLE_STATES = ("new", "returning", "resurrecting", "dormant")


@dataclass(frozen=True)
class Lifecycle:
    periods: list[Period]
    new: list[int]
    returning: list[int]
    resurrecting: list[int]
    dormant: list[int]  # negative: users lost

    def rows(self) -> list[dict[str, Any]]:
        return [
            {"period": p.label, "new": n, "returning": r, "resurrecting": s, "dormant": d}
            for p, n, r, s, d in zip(
                self.periods, self.new, self.returning, self.resurrecting, self.dormant, strict=True
            )
        ]


def lifecycle(pp: Store, event: str | Bitmap, periods: PeriodRange) -> Lifecycle:
    """New / returning / resurrecting / dormant users per bucket of ``periods``, one round trip."""
    pp.check_tracked(periods.granularity)
    template = Event(pp, validate_name(event)) if isinstance(event, str) else event
    buckets = periods.periods()
    begin = history_start(pp, template, buckets[0].prev())
    bitmaps: list[Bitmap] = []
    slots: list[list[int | None]] = []  # per period: index in bitmaps per state
    for period in buckets:
        now_set = template.bind(period)
        before = template.bind(period.prev())
        history = history_before(pp, template, begin, period)
        states: list[Bitmap | None] = [
            now_set if history is None else now_set - history,  # new
            now_set & before,  # returning
            None if history is None else (now_set & history) - before,  # resurrecting
            before - now_set,  # dormant
        ]
        row: list[int | None] = []
        for state in states:
            row.append(None if state is None else len(bitmaps))
            if state is not None:
                bitmaps.append(state)
        slots.append(row)
    counts = pp.count_bitmaps(bitmaps)
    columns = [[0 if i is None else counts[i] for i in (row[s] for row in slots)] for s in range(4)]
    return Lifecycle(
        periods=buckets,
        new=columns[0],
        returning=columns[1],
        resurrecting=columns[2],
        dormant=[-v for v in columns[3]],
    )


@dataclass(frozen=True)
class Stickiness:
    period: Period
    days: int
    exactly: list[int]  # exactly[k - 1]: users active on exactly k days

    @property
    def at_least(self) -> list[int]:
        """``at_least[k - 1]``: users active on k days or more."""
        return [int(v) for v in np.cumsum(self.exactly[::-1])[::-1]]

    @property
    def users(self) -> int:
        return sum(self.exactly)


def stickiness(pp: Store, event: str, period: Period) -> Stickiness:
    """Of the users who did ``event`` in ``period`` (a week or month), how many did it on
    exactly / at least n of its days. Day bitmaps are fetched in one round trip and
    summed per user with numpy."""
    if period.granularity not in ("week", "month"):
        raise InvalidGranularity("stickiness is per week or month; allowed: week, month")
    if "day" not in pp.granularities:
        raise InvalidGranularity("stickiness counts days: track 'day' (GRANULARITIES)")
    days = []
    day = pp.period("day", period.start)
    while day.start < period.period_end():
        days.append(day)
        day = day.next()
    template = Event(pp, validate_name(event))
    bitmaps = [template.bind(d) for d in days]
    chunks = pp.chunks()
    rows = pp.read_chunks(bitmaps, chunks, lambda pipe, key, _c: pipe.get(key))
    histogram = np.zeros(len(days) + 1, dtype=np.int64)
    for c in range(len(chunks)):
        per_day = [np.frombuffer(rows[d][c] or b"", dtype=np.uint8) for d in range(len(days))]
        width = max((len(a) for a in per_day), default=0)
        if width == 0:
            continue
        totals = np.zeros(width * 8, dtype=np.uint8)
        for array in per_day:
            if len(array):
                totals[: len(array) * 8] += np.unpackbits(array)
        histogram += np.bincount(totals, minlength=len(days) + 1)[: len(days) + 1]
    return Stickiness(period, len(days), [int(v) for v in histogram[1:]])


@dataclass(frozen=True)
class OptionReport:
    option: str
    trials: int
    successes: float
    rate: float | None
    low: float | None
    high: float | None
    win_probability: float
    dimension: str  # the path the figures come from ("" = overall)


def wilson(successes: float, trials: float, z: float = 1.96) -> tuple[float, float] | None:
    """The Wilson score interval of a success rate (95% by default)."""
    if trials <= 0:
        return None
    p = min(max(successes / trials, 0.0), 1.0)
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


class Decision:
    """A named choice between options, learnt from recorded outcomes.

    >>> landing = pp.decision("landing-page")                           # doctest: +SKIP
    >>> option = landing.decide(["a", "b"], {"country": "US"})          # doctest: +SKIP
    >>> landing.record(option, {"country": "US"})                        # shown
    >>> landing.record(option, {"country": "US"}, success=1)             # it worked
    """

    def __init__(
        self, store: Store, name: str, *, period: str = "90d", min_trials: int = 30
    ) -> None:
        self._store = store
        self.name = validate_name(name, what="decision name")
        self.period = period
        self.min_trials = min_trials
        self.metric = Metric(store, f"decision:{self.name}")

    @staticmethod
    def _option(option: object) -> str:
        text = str(option) if plain(option, str, int) else None
        if text is None:
            raise InvalidValue(
                f"an option is a string or an int, got {str(option)[:60]!r}", field="options"
            )
        check_path(text)
        return text

    def record(
        self,
        option: object,
        dimensions: Mapping[str, Any] | None = None,
        *,
        success: float | None = None,
        when: object = None,
    ) -> None:
        """Record that ``option`` was shown (``success=None``) or how it did (``success``)."""
        opt = self._option(option)
        nested = {"option": {opt: dict(dimensions or {})}}
        dimension_paths(nested)  # validates before anything is written
        metrics = {"trials": 1} if success is None else {"successes": success}
        self.metric.count_many([(metrics, nested, when)])

    def _stats(
        self, options: list[str], known: Mapping[str, Any] | None
    ) -> list[tuple[str, float, float]]:
        """Per option: (path used, trials, successes), most specific path with enough data."""
        candidates: list[list[str]] = []
        for opt in options:
            paths = [f"option/{opt}"]
            for path in dimension_paths(dict(known or {}))[1:]:
                if "/" in path:  # a value, not a bare dimension name
                    paths.append(f"option/{opt}/{path}")
            candidates.append(paths)
        buckets = self.metric.cover_range(self.metric.resolve_range(self.period))
        flat = [(path, buckets) for paths in candidates for path in paths]
        sums = iter(self.metric.sum_groups(flat))
        out = []
        for paths in candidates:
            figures = [(path, next(sums)) for path in paths]
            # The most specific matching dimension with enough trials: parents
            # always have more trials, so "most trials" would pick the least
            # specific one. Among equally deep paths, the one with more trials.
            qualified = [f for f in figures[1:] if f[1].get("trials", 0) >= self.min_trials]
            path, values = (
                max(qualified, key=lambda f: (f[0].count("/"), f[1]["trials"]))
                if qualified
                else figures[0]
            )
            out.append((path, float(values.get("trials", 0)), float(values.get("successes", 0))))
        return out

    def report(
        self,
        options: Sequence[object],
        known_dimensions: Mapping[str, Any] | None = None,
        *,
        draws: int = 20_000,
        seed: int | None = None,
    ) -> list[OptionReport]:
        """Each option's trials, successes, rate, 95% interval and probability of being best."""
        opts = [self._option(o) for o in options]
        if len(opts) < 2 or len(set(opts)) != len(opts):
            raise InvalidValue("give two or more distinct options", field="options")
        stats = self._stats(opts, known_dimensions)
        rng = np.random.default_rng(seed)
        samples = np.stack([rng.beta(1 + min(s, t), 1 + max(t - s, 0), draws) for _, t, s in stats])
        wins = np.bincount(samples.argmax(axis=0), minlength=len(opts)) / draws
        reports = []
        for opt, (path, trials, successes), win in zip(opts, stats, wins, strict=True):
            interval = wilson(min(successes, trials), trials)
            reports.append(
                OptionReport(
                    option=opt,
                    trials=int(trials),
                    successes=successes,
                    rate=successes / trials if trials else None,
                    low=interval[0] if interval else None,
                    high=interval[1] if interval else None,
                    win_probability=float(win),
                    dimension=path.split("/", 2)[2] if path.count("/") >= 2 else "",
                )
            )
        return reports

    def decide(
        self,
        options: Sequence[object],
        known_dimensions: Mapping[str, Any] | None = None,
        *,
        seed: int | None = None,
    ) -> str:
        """Pick an option: any with fewer than 5 trials first (none is starved), else
        Thompson sampling on Beta(successes + 1, failures + 1). One round trip."""
        opts = [self._option(o) for o in options]
        if not opts or len(set(opts)) != len(opts):
            raise InvalidValue("give one or more distinct options", field="options")
        if len(opts) == 1:
            return opts[0]
        stats = self._stats(opts, known_dimensions)
        rng = np.random.default_rng(seed)
        starving = [o for o, (_, t, _s) in zip(opts, stats, strict=True) if t < 5]
        if starving:
            return str(rng.choice(starving))
        draws = [rng.beta(1 + min(s, t), 1 + max(t - s, 0)) for _, t, s in stats]
        return opts[int(np.argmax(draws))]
