"""kairos's ``Timeseries`` over the engine: ``from kairos import Timeseries``
becomes ``from porpoise_django.compat.kairos import Timeseries``.

Example::

    t = Timeseries(client, type="histogram", read_func=float, intervals={
        "minute": {"step": 60, "steps": 120}})
    t.insert("example", 3.14159)
    t.get("example", "minute")              # OrderedDict([(1764086400, {3.14159: 1})])

The engine's time series take kairos's types (``series``, the default here,
``histogram``, ``count``, ``gauge``; and ``set``), its steps (seconds,
``"30d"``, ``"daily"``...), ``resolution``, ``steps``, ``read_func`` and
``write_func``. Differences on purpose: ``get`` answers every resolution row
(``sparse=True``, the default here, keeps only rows with data as kairos
does); ``mean``/``min``/``max`` of no data are ``None``, not 0; buckets are
cut in the store's time zone (UTC here, as kairos).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from porpoise_django.engine import Analytics, TimeSeries


class Timeseries:
    """``kairos.Timeseries(client, type=..., intervals=..., prefix=...)``."""

    def __init__(
        self,
        client: Any,
        type: str = "series",
        intervals: Mapping[str, Mapping[str, Any]] | None = None,
        prefix: str | None = None,
        read_func: Callable[[str], Any] | None = None,
        write_func: Callable[[Any], Any] | None = None,
        store: Analytics | None = None,
    ) -> None:
        if not intervals:
            raise ValueError("kairos needs intervals, e.g. {'minute': {'step': 60}}")
        self.store = store or Analytics(client, prefix=(prefix or "pp").rstrip(":"), tz="UTC")
        self.series_type = type
        self._series: TimeSeries = self.store.timeseries(
            type=type, intervals=intervals, read_func=read_func, write_func=write_func
        )

    def insert(self, name: str, value: Any = 1, timestamp: Any = None) -> None:
        """Record ``value`` (a count's increment: 1 by default) at ``timestamp`` (now)."""
        self._series.insert(name, value, timestamp)

    def get(self, name: Any, interval: str, timestamp: Any = None, **options: Any) -> Any:
        """One bucket: ``{timestamp: data}``; resolution rows with data only, as kairos."""
        options.setdefault("sparse", True)
        return self._series.get(name, interval, timestamp, **options)

    def series(self, name: Any, interval: str, steps: int | None = None, **options: Any) -> Any:
        """Consecutive buckets ending now (or at ``end``), oldest first."""
        return self._series.series(name, interval, steps=steps, **options)

    def delete(self, name: str) -> None:
        self._series.delete(name)

    def list(self) -> list[str]:
        """Names written to this timeseries."""
        return self._series.names()
