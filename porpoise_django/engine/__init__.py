"""The porpoise engine: product analytics in Redis bitmaps, with no Django import.

>>> import redis
>>> from porpoise_django.engine import Analytics
>>> pp = Analytics(client)          # client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
>>> pp.mark("active", 7)
>>> len(pp.event("active").day())
1
>>> pp.delete_all()
"""

from porpoise_django.engine.analyses.breakdowns import cohort_table, funnel, lifecycle, stickiness
from porpoise_django.engine.analyses.cohorts import CohortTable
from porpoise_django.engine.analyses.decisions import Decision
from porpoise_django.engine.analyses.drilldown import (
    cohort_cell,
    funnel_step,
    lifecycle_state,
    stickiness_days,
)
from porpoise_django.engine.analyses.funnels import FunnelResult, times_measurable
from porpoise_django.engine.analyses.lifecycle import Lifecycle
from porpoise_django.engine.analyses.people import MAX_PEOPLE_LIMIT, Activity, People
from porpoise_django.engine.analyses.stickiness import Stickiness
from porpoise_django.engine.analytics import Analytics
from porpoise_django.engine.errors import (
    IdMapMismatch,
    InvalidExpression,
    InvalidGranularity,
    InvalidId,
    InvalidName,
    InvalidTime,
    InvalidValue,
    PorpoiseError,
)
from porpoise_django.engine.events.bitmaps import (
    Bitmap,
    BitOp,
    Difference,
    EventBitmap,
    Tally,
    UniqueBitmap,
    UniverseBitmap,
)
from porpoise_django.engine.events.event import Event
from porpoise_django.engine.events.properties import OTHER, PropertyBitmap
from porpoise_django.engine.events.query import parse_query
from porpoise_django.engine.events.segments import Segment
from porpoise_django.engine.names import NAME_PATTERN, validate_name
from porpoise_django.engine.numbers.counters import Counter
from porpoise_django.engine.numbers.metrics import Metric, check_metric_name, dimension_paths
from porpoise_django.engine.numbers.metrics import check_path as check_dimension_path
from porpoise_django.engine.numbers.timeseries import SERIES_TYPES, TRANSFORMS, TimeSeries
from porpoise_django.engine.storage.forgetting import Forgotten
from porpoise_django.engine.storage.keys import KeyScheme
from porpoise_django.engine.storage.policy import (
    DEFAULT_COUNTER_GRANULARITIES,
    DEFAULT_GRANULARITIES,
)
from porpoise_django.engine.storage.writes import Prepared
from porpoise_django.engine.time.period_strings import PERIOD_STRING_HELP, parse_period, split_zone
from porpoise_django.engine.time.periods import (
    EVENT_GRANULARITIES,
    GRANULARITIES,
    Period,
    PeriodRange,
    cover,
    period_of,
    period_range,
)

__all__ = [
    "DEFAULT_COUNTER_GRANULARITIES",
    "DEFAULT_GRANULARITIES",
    "EVENT_GRANULARITIES",
    "GRANULARITIES",
    "MAX_PEOPLE_LIMIT",
    "NAME_PATTERN",
    "OTHER",
    "PERIOD_STRING_HELP",
    "SERIES_TYPES",
    "TRANSFORMS",
    "Activity",
    "Analytics",
    "BitOp",
    "Bitmap",
    "CohortTable",
    "Counter",
    "Decision",
    "Difference",
    "Event",
    "EventBitmap",
    "Forgotten",
    "FunnelResult",
    "IdMapMismatch",
    "InvalidExpression",
    "InvalidGranularity",
    "InvalidId",
    "InvalidName",
    "InvalidTime",
    "InvalidValue",
    "KeyScheme",
    "Lifecycle",
    "Metric",
    "People",
    "Period",
    "PeriodRange",
    "PorpoiseError",
    "Prepared",
    "PropertyBitmap",
    "Segment",
    "Stickiness",
    "Tally",
    "TimeSeries",
    "UniqueBitmap",
    "UniverseBitmap",
    "check_dimension_path",
    "check_metric_name",
    "cohort_cell",
    "cohort_table",
    "cover",
    "dimension_paths",
    "funnel",
    "funnel_step",
    "lifecycle",
    "lifecycle_state",
    "parse_period",
    "parse_query",
    "period_of",
    "period_range",
    "split_zone",
    "stickiness",
    "stickiness_days",
    "times_measurable",
    "validate_name",
]
