"""hailwhale over the engine's metrics: ``from hailwhale.whale import Whale``
becomes ``from porpoise_django.compat.hailwhale import Whale`` (``Hail`` and
``maybe_dumps`` too), and its HTTP service is a Django URLconf to include:
``path("hailwhale/", include("porpoise_django.compat.hailwhale.urls"))``.

Example (``Whale`` stores in the project's ``get_analytics()``)::

    Whale.count_now("my_counter", metrics={"hits": 1})
    Whale.total("my_counter", metric="hits", period="today")                # 1
    Whale.plotpoints("my_counter", metrics=["revenue/hits"], period="mtd")
    # {'_': {'revenue/hits': {'11/1/26': 0, '11/2/26': 5.0, ...}}}

What carries over: ``count_now`` (under each prefix of a list primary key and
each level of the dimensions: a dict, nested dicts, a value or a list),
``count_decided_now``, ``total``, ``totals`` (hailwhale's ``{period: {row:
{metric: total}}}``; the README's ``period=`` gives ``{row: ...}``),
``plotpoints`` (``depth``, ``limit``/``sort``, ``points_type=list``),
``get_subdimensions``, ``all_subdimensions``, ``rank_subdimensions_scalar``
and ``_ratio``, ``rank``, ``weighted_reasons``, ``decide_from_reasons`` and
both forms of ``decide``, ``count_decision`` (the README's), the ``cached_*``
calls, ``Hail``'s queue, hailwhale's period strings and its zero ratios.
Rows are keyed as hailwhale keys them (``"_"``, ``"country"``,
``'["country", "US"]'``).

Differences on purpose (see "Coming from hailwhale" in docs/peers.md): a
``/`` in a dimension value separates levels; buckets are the engine's (the
finest is a minute); plot labels are the README's ``M/D/YY``; the README's
``decide`` draws by Thompson sampling on the engine's decisions.
"""

from porpoise_django.compat.hailwhale.hail import Hail
from porpoise_django.compat.hailwhale.keys import maybe_dumps, try_loads
from porpoise_django.compat.hailwhale.periods import NICKNAMES, label, translate_period
from porpoise_django.compat.hailwhale.whale import Whale

__all__ = ["NICKNAMES", "Hail", "Whale", "label", "maybe_dumps", "translate_period", "try_loads"]
