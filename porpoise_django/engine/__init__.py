"""The porpoise engine: product analytics in Redis bitmaps, with no Django import.

>>> import redis
>>> from porpoise_django.engine import Analytics
>>> pp = Analytics(redis.Redis.from_url("redis://127.0.0.1:6379/0"))  # doctest: +SKIP
>>> pp.mark("active", 7)                                              # doctest: +SKIP
>>> len(pp.event("active").day())                                     # doctest: +SKIP
1
"""

from .analytics import Analytics
from .behaviour import Lifecycle, Stickiness, lifecycle, stickiness
from .bitmaps import Bitmap, BitOp, Difference, EventBitmap, UniqueBitmap, UniverseBitmap
from .cohorts import CohortTable, FunnelResult, cohort_table, funnel
from .counters import Counter
from .decisions import Decision
from .errors import (
    InvalidExpression,
    InvalidGranularity,
    InvalidId,
    InvalidName,
    InvalidTime,
    InvalidValue,
    PorpoiseError,
)
from .events import Event
from .keys import KeyScheme
from .metrics import Metric
from .period_strings import parse_period
from .periods import (
    EVENT_GRANULARITIES,
    GRANULARITIES,
    Period,
    PeriodRange,
    cover,
    period_of,
    period_range,
)
from .policy import DEFAULT_COUNTER_GRANULARITIES, DEFAULT_GRANULARITIES
from .query import parse_query
from .timeseries import SERIES_TYPES, TRANSFORMS, TimeSeries

__all__ = [
    "DEFAULT_COUNTER_GRANULARITIES",
    "DEFAULT_GRANULARITIES",
    "EVENT_GRANULARITIES",
    "GRANULARITIES",
    "SERIES_TYPES",
    "TRANSFORMS",
    "Analytics",
    "BitOp",
    "Bitmap",
    "CohortTable",
    "Counter",
    "Decision",
    "Difference",
    "Event",
    "EventBitmap",
    "FunnelResult",
    "InvalidExpression",
    "InvalidGranularity",
    "InvalidId",
    "InvalidName",
    "InvalidTime",
    "InvalidValue",
    "KeyScheme",
    "Lifecycle",
    "Metric",
    "Period",
    "PeriodRange",
    "PorpoiseError",
    "Stickiness",
    "TimeSeries",
    "UniqueBitmap",
    "UniverseBitmap",
    "cohort_table",
    "cover",
    "funnel",
    "lifecycle",
    "parse_period",
    "parse_query",
    "period_of",
    "period_range",
    "stickiness",
]
