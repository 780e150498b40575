"""What each dashboard shows before anyone touches its form.

A page opened from the sidebar answers at once: the cohort table of signups
coming back active, the lifecycle of the active event, a funnel of the usual
steps, the chart of the busiest counter. The events come from the settings
(``SIGNUP_EVENT``, ``ACTIVE_EVENT``, ``LOGIN_EVENT``) when they were marked,
else from the registry; a store with nothing marked shows the empty form.

>>> pp.mark_many([("signup", 1), ("active", 1)])
2
>>> cohort_defaults(pp)
{'select1': 'signup', 'select2': 'active', 'granularity': 'week', 'cohorts': 1, 'offsets': 1}
"""

from __future__ import annotations

from typing import Any

from porpoise_django.conf import porpoise_settings
from porpoise_django.engine import Analytics
from porpoise_django.tables import COHORTS, OFFSETS

#: Names looked at when picking the busiest counter or event (one round trip).
_CANDIDATES = 200


def _marked(known: list[str], *settings: str) -> list[str]:
    """The events named by ``settings`` that are in ``known``, in that order, once each."""
    found: list[str] = []
    for setting in settings:
        name = getattr(porpoise_settings, setting)
        if name and name in known and name not in found:
            found.append(name)
    return found


def _granularity(pp: Analytics, preferred: str) -> str:
    return preferred if preferred in pp.granularities else pp.granularities[0]


def cohort_defaults(pp: Analytics) -> dict[str, Any] | None:
    """Signups coming back active (or logging in), by week where weeks are tracked."""
    names = pp.event_names()
    entry = _marked(names, "SIGNUP_EVENT")
    back = _marked(names, "ACTIVE_EVENT", "LOGIN_EVENT")
    if not entry or not back:
        return None
    granularity = _granularity(pp, "week")
    defaults: dict[str, Any] = {"select1": entry[0], "select2": back[0], "granularity": granularity}
    span = pp.event_span(entry[0])
    if span is not None:  # no rows of empty cohorts before the first signup
        periods = len(pp.range(granularity, span[0], 0)) if span[0] <= pp.now() else 1
        defaults["cohorts"] = min(COHORTS.default, periods)
        defaults["offsets"] = min(OFFSETS.default, max(periods - 1, 1))
    return defaults


def funnel_defaults(pp: Analytics) -> dict[str, Any] | None:
    """Signup, login, then the busiest other event: steps a product has."""
    names = pp.event_names()
    steps = _marked(names, "SIGNUP_EVENT", "LOGIN_EVENT")
    busiest = busiest_event(pp, names, exclude={*steps, porpoise_settings.ACTIVE_EVENT})
    if busiest:
        steps.append(busiest)
    if len(steps) < 2:
        return None
    return {"steps": "\n".join(steps), "granularity": _granularity(pp, "day")}


def lifecycle_defaults(pp: Analytics) -> dict[str, Any] | None:
    """The active event, else the busiest one."""
    names = pp.event_names()
    marked = _marked(names, "ACTIVE_EVENT")
    event = marked[0] if marked else busiest_event(pp, names)
    return {"event": event} if event else None


def chart_defaults(pp: Analytics) -> dict[str, Any] | None:
    """The busiest counter this week, else the busiest event today."""
    counter = busiest_counter(pp)
    if counter:
        return {"kind": "counter", "name": counter}
    event = busiest_event(pp, pp.event_names())
    return {"kind": "event", "name": event} if event else None


def busiest_event(pp: Analytics, names: list[str], exclude: set[Any] | None = None) -> str | None:
    """Among ``names`` (the first of them), the event with the most users in the
    current bucket of the finest tracked granularity."""
    names = [n for n in names if n not in (exclude or set())][:_CANDIDATES]
    if not names:
        return None
    period = pp.period(pp.granularities[0])
    counts = pp.count_bitmaps([pp.event(n).bind(period) for n in names])
    best = max(range(len(names)), key=lambda i: counts[i])
    return names[best] if counts[best] else names[0]


def busiest_counter(pp: Analytics) -> str | None:
    """The counter with the largest total this week (or the coarsest tracked bucket)."""
    names = pp.counter_names()[:_CANDIDATES]
    if not names:
        return None
    granularity = _granularity_for_counters(pp)
    period = pp.period(granularity)
    keys = [pp.keys.counter_total(n, period) for n in names]

    def build(pipe: Any) -> None:
        for key in keys:
            pipe.get(key)

    totals = [float(v or 0) for v in pp.run(build, scripts=())]
    return names[max(range(len(names)), key=lambda i: totals[i])]


def _granularity_for_counters(pp: Analytics) -> str:
    tracked = pp.counter_granularities
    return "week" if "week" in tracked else tracked[-1]


#: Decisions are stored as the metric ``decision:NAME``.
DECISION = "decision:"


def decision_names(pp: Analytics) -> list[str]:
    """Every decision recorded under this prefix."""
    return [n[len(DECISION) :] for n in pp.metric_names() if n.startswith(DECISION)]


def decision_options(pp: Analytics, name: str) -> dict[str, float]:
    """Each recorded option of decision ``name`` -> its trials over the decision's
    period, the most tried first."""
    decision = pp.decision(name)
    rows = decision.metric.breakdown("option", decision.period, ["trials"])
    return {r["dimension"].split("/", 1)[1]: r["trials"] or 0 for r in rows}


def decision_defaults(
    pp: Analytics, recorded: dict[str, dict[str, float]] | None = None
) -> dict[str, Any] | None:
    """The decision with the most trials, with all its options (``recorded``:
    :func:`decision_options` of each decision, when already read)."""
    if recorded is None:
        recorded = {name: decision_options(pp, name) for name in decision_names(pp)[:_CANDIDATES]}
    best: tuple[float, str, list[str]] | None = None
    for name, options in recorded.items():
        trials = sum(options.values())
        if len(options) >= 2 and (best is None or trials > best[0]):
            best = (trials, name, sorted(options))
    return {"name": best[1], "options": ",".join(best[2])} if best else None
