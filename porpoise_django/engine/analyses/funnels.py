"""Funnels: how many distinct users went through steps in order, in one round trip.

>>> pp.mark_many([("visit", 1), ("visit", 2), ("signup", 2), ("purchase", 2)])
4
>>> result = funnel(pp, ["visit", "signup", "purchase"], window=7)
>>> result.counts, result.conversion()
([2, 1, 1], [None, 50.0, 100.0])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from porpoise_django.engine.analyses.cohorts import MAX_CELLS, template_of
from porpoise_django.engine.errors import InvalidValue
from porpoise_django.engine.events.bitmaps import Bitmap, union
from porpoise_django.engine.values import int_in

if TYPE_CHECKING:
    from porpoise_django.engine.storage.store import Store


@dataclass(frozen=True)
class FunnelResult:
    steps: list[str]
    counts: list[int]

    def conversion(self) -> list[float | None]:
        """Percent of the previous step reached, per step (None for the first)."""
        out: list[float | None] = [None]
        for previous, current in zip(self.counts, self.counts[1:], strict=False):
            out.append(100.0 * current / previous if previous else None)
        return out

    def overall(self) -> float | None:
        """Percent of the first step that reached the last."""
        return 100.0 * self.counts[-1] / self.counts[0] if self.counts and self.counts[0] else None


def funnel(
    pp: Store,
    steps: Sequence[str | Bitmap],
    *,
    granularity: str = "day",
    window: int = 7,
    start: Any = -6,
    end: Any = 0,
) -> FunnelResult:
    """How many distinct users went through ``steps`` in order.

    A user enters on step 1 in any period ``E`` of ``start..end``; they reach
    step ``k+1`` if they did it in ``E`` or within ``window`` periods after
    it, having reached step ``k`` from the same entry. Each step counts
    users, once each, however many periods they entered in: a user who
    converts from any of their entries counts as converted. Bitmaps record
    periods, not instants, so two steps in the same period count as in
    order. One round trip.
    """
    if not 2 <= len(steps) <= 10:
        raise InvalidValue("a funnel has 2 to 10 steps", field="steps")
    pp.check_tracked(granularity)
    if not int_in(window, 0, 366):
        raise InvalidValue("window must be an int from 0 to 366 periods", field="window")
    templates = [template_of(pp, s) for s in steps]
    entries = pp.range(granularity, start, end)
    if len(entries) * window > MAX_CELLS:
        raise InvalidValue(
            f"funnel of {len(entries)} entry periods x {window} is too large", field="window"
        )
    per_step: list[list[Bitmap]] = [[] for _ in steps]
    for entry in entries:
        reached = [entry.delta(j) for j in range(window + 1)]
        first_step = templates[0]
        assert first_step is not None
        current: Bitmap = first_step.bind(entry)
        per_step[0].append(current)
        for k, template in enumerate(templates[1:], start=1):
            assert template is not None
            current = current & union([template.bind(p) for p in reached])
            per_step[k].append(current)
    # A user counts once per step: the union over entry periods, not a sum.
    totals = pp.count_bitmaps([union(step) for step in per_step])
    names = [s if isinstance(s, str) else s.signature for s in steps]
    return FunnelResult(names, totals)
