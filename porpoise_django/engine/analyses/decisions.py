"""Decisions (hailwhale's ``decide``, made sound): a named choice between options,
learnt from what was recorded for each.

Two ways to judge an option:

- **a success rate** (the default): record each time an option is shown, then
  each success; the figure is successes / trials, sampled from a Beta posterior;
- **a formula over metrics** (hailwhale's ``by_metric``): record any metrics
  for an option (``{"revenue": 500, "visitors": 100}``), then decide ``by``
  ``"revenue/visitors"``, or by one metric (read per recorded call:
  ``"revenue"`` is revenue per call), and with ``goal="min"`` for a cost such
  as ``"spent/earned"``. The figure is sampled as a Poisson rate
  (numerator units per denominator unit) from its Gamma posterior: exact for
  counts (sales per visitor), a fair explorer for money in whole units.

Either way the figures come from the most specific known dimension with
``min_trials`` of evidence (shows, or the formula's denominator: visitors,
recorded calls for one metric), else from the option's overall figures; an
option with less than 5 is tried first (none is starved), and ``decide`` picks by
Thompson sampling; ``report`` gives each option's figure, 95% interval and
probability of being the best.

>>> landing = pp.decision("landing-page")
>>> option = landing.decide(["a", "b"], {"country": "US"})
>>> option in ("a", "b")
True
>>> landing.record(option, {"country": "US"})
>>> landing.record(option, {"country": "US"}, success=1)
>>> for _ in range(5):
...     landing.record("a", metrics={"revenue": 0, "visitors": 10})
...     landing.record("b", metrics={"revenue": 25, "visitors": 1})
>>> landing.decide(["a", "b"], by="revenue/visitors")
'b'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from porpoise_django.engine.errors import InvalidValue
from porpoise_django.engine.names import validate_name
from porpoise_django.engine.numbers.metrics import (
    HITS,
    Metric,
    check_path,
    dimension_paths,
    ratio_parts,
)
from porpoise_django.engine.values import plain

if TYPE_CHECKING:
    from porpoise_django.engine.storage.store import Store

#: Recorded calls below which an option is tried before any other.
EXPLORE_BELOW = 5
GOALS = ("max", "min")


@dataclass(frozen=True)
class OptionReport:
    option: str
    trials: int  # the evidence: shows (success rate), or the formula's denominator
    successes: float  # successes, or the formula's numerator
    rate: float | None  # the figure: successes / trials, or the formula's value
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


@dataclass(frozen=True)
class _Judge:
    """How options are judged: the metric that counts the evidence, the
    numerator and denominator of the figure, and whether more is better."""

    evidence: str
    numerator: str
    denominator: str
    goal: str = "max"

    @property
    def rate(self) -> bool:
        return self.numerator == "successes"

    @classmethod
    def of(cls, by: str | None, goal: str) -> _Judge:
        if goal not in GOALS:
            raise InvalidValue(
                f"goal must be one of {', '.join(GOALS)}, got {goal!r}", field="goal"
            )
        if by is None:
            if goal != "max":
                raise InvalidValue("goal='min' needs a formula (by=...)", field="goal")
            return cls("trials", "successes", "trials")
        if not isinstance(by, str):
            raise InvalidValue(f"by must be a metric or a ratio 'a/b', got {by!r}", field="by")
        try:
            parts = ratio_parts(by)
        except InvalidValue as exc:
            raise InvalidValue(str(exc), field="by") from None
        numerator, denominator = parts or (by, HITS)
        # The denominator measures the evidence (visitors, for dollars per visitor).
        return cls(denominator, numerator, denominator, goal)

    def draws(self, figures: Sequence[tuple[float, float]], size: int, seed: int | None) -> Any:
        """Posterior samples, one row per option, of each ``(numerator, denominator)``."""
        rng = np.random.default_rng(seed)
        rows = []
        for numerator, denominator in figures:
            if self.rate:
                s, t = min(numerator, denominator), denominator
                rows.append(rng.beta(1 + s, 1 + max(t - s, 0), size))
            else:
                shape = 1 + max(numerator, 0.0)
                rows.append(rng.gamma(shape, 1.0, size) / (1 + max(denominator, 0.0)))
        return np.stack(rows)

    def best(self, samples: Any) -> Any:
        """Index of the best option in each column of ``samples``."""
        return samples.argmax(axis=0) if self.goal == "max" else samples.argmin(axis=0)


class Decision:
    """A named choice between options; see the module docstring.

    >>> landing = pp.decision("landing-page")
    >>> option = landing.decide(["a", "b"], {"country": "US"})
    >>> landing.record(option, {"country": "US"}, success=1)
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
        metrics: Mapping[str, float] | None = None,
        when: object = None,
    ) -> None:
        """Record that ``option`` was shown (no ``success``), how it did
        (``success``), or any ``metrics`` to decide by a formula over them."""
        opt = self._option(option)
        nested = {"option": {opt: dict(dimensions or {})}}
        dimension_paths(nested)  # validates before anything is written
        if metrics is not None and success is not None:
            raise InvalidValue("give success or metrics, not both", field="metrics")
        if metrics is not None:
            values = dict(metrics)
        else:
            values = {"trials": 1} if success is None else {"successes": success}
        self.metric.count_many([(values, nested, when)])

    def _stats(
        self, options: list[str], known: Mapping[str, Any] | None, judge: _Judge
    ) -> list[tuple[str, float, float, float]]:
        """Per option: (path used, evidence, numerator, denominator), from the most
        specific path with enough evidence."""
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
            # The most specific matching dimension with enough evidence: parents
            # always have more, so "most evidence" would pick the least specific
            # one. Among equally deep paths, the one with more evidence.
            qualified = [f for f in figures[1:] if f[1].get(judge.evidence, 0) >= self.min_trials]
            path, values = (
                max(qualified, key=lambda f: (f[0].count("/"), f[1][judge.evidence]))
                if qualified
                else figures[0]
            )
            out.append(
                (
                    path,
                    float(values.get(judge.evidence, 0)),
                    float(values.get(judge.numerator, 0)),
                    float(values.get(judge.denominator, 0)),
                )
            )
        return out

    def _options(self, options: Sequence[object], least: int) -> list[str]:
        if isinstance(options, (str, bytes)) or not isinstance(options, Sequence):
            raise InvalidValue("options must be a list such as ['a', 'b']", field="options")
        opts = [self._option(o) for o in options]
        if len(opts) < least or len(set(opts)) != len(opts):
            words = "two or more" if least > 1 else "one or more"
            raise InvalidValue(f"give {words} distinct options", field="options")
        return opts

    def report(
        self,
        options: Sequence[object],
        known_dimensions: Mapping[str, Any] | None = None,
        *,
        by: str | None = None,
        goal: str = "max",
        draws: int = 20_000,
        seed: int | None = None,
    ) -> list[OptionReport]:
        """Each option's figure (success rate, or the ``by`` formula), its 95%
        interval and its probability of being the best."""
        judge = _Judge.of(by, goal)
        opts = self._options(options, 2)
        stats = self._stats(opts, known_dimensions, judge)
        samples = judge.draws([(n, d) for _, _, n, d in stats], draws, seed)
        wins = np.bincount(judge.best(samples), minlength=len(opts)) / draws
        reports = []
        for i, (opt, (path, evidence, numerator, denominator)) in enumerate(
            zip(opts, stats, strict=True)
        ):
            if judge.rate:
                interval = wilson(min(numerator, denominator), denominator)
            else:
                low, high = np.quantile(samples[i], [0.025, 0.975])
                interval = (float(low), float(high)) if evidence else None
            reports.append(
                OptionReport(
                    option=opt,
                    trials=int(evidence),
                    successes=numerator,
                    rate=numerator / denominator if denominator else None,
                    low=interval[0] if interval else None,
                    high=interval[1] if interval else None,
                    win_probability=float(wins[i]),
                    dimension=path.split("/", 2)[2] if path.count("/") >= 2 else "",
                )
            )
        return reports

    def decide(
        self,
        options: Sequence[object],
        known_dimensions: Mapping[str, Any] | None = None,
        *,
        by: str | None = None,
        goal: str = "max",
        seed: int | None = None,
    ) -> str:
        """Pick an option: any with less than 5 of evidence (shows, or the formula's
        denominator) first,
        else by Thompson sampling of the success rate or of the ``by`` formula.
        One round trip."""
        judge = _Judge.of(by, goal)
        opts = self._options(options, 1)
        if len(opts) == 1:
            return opts[0]
        stats = self._stats(opts, known_dimensions, judge)
        rng = np.random.default_rng(seed)
        starving = [o for o, (_, e, _n, _d) in zip(opts, stats, strict=True) if e < EXPLORE_BELOW]
        if starving:
            return str(rng.choice(starving))
        samples = judge.draws([(n, d) for _, _, n, d in stats], 1, seed)
        return opts[int(judge.best(samples)[0])]


__all__ = ["Decision", "OptionReport", "wilson"]
