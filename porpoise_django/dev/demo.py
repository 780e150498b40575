"""Demo data with realistic signup and retention curves (``manage.py porpoise_demo``).

Signups grow slowly with fewer on weekends; each user has an engagement level,
and the chance of coming back ``k`` days after signing up decays like
``k ** -0.5`` (the usual retention curve shape); a share of active users log
in, play songs and buy. Today's activity is spread from midnight up to now
(no pile-up in the current hour). Counters follow the events: every played
event is one to three plays of songs (Zipf-distributed popularity), revenue
is purchases times the price, page views come from active users. A running
A/B test feeds the ``landing-page`` decision. Users have a ``plan`` and a
``country`` (person properties) and each signup a ``source`` (an event
property), so every page can be broken down.

Demo users are never mistaken for real ones: their integer ids start at
:data:`FIRST_ID` (2**31, the start of a chunk, so the bitmaps stay as small as
for ids from 1), far above any Django user's primary key; with string ids
(``ID_MODE = "map"``) they are ``demo-user-N``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import numpy as np

from porpoise_django.engine import Analytics

PATHS = ["/", "/songs/", "/pricing/", "/account/"]
PATH_WEIGHTS = [0.45, 0.35, 0.12, 0.08]
PRICE = 9.99
#: The first demo user's integer id (see the module docstring).
FIRST_ID = 2**31
#: The demo users' string ids, in the "map" id mode.
STRING_IDS = "demo-user-{}"
#: Person properties of the demo users (value: share), and where signups came from.
PLANS = {"free": 0.7, "pro": 0.25, "team": 0.05}
COUNTRIES = {"US": 0.35, "DE": 0.15, "FR": 0.12, "GB": 0.12, "BR": 0.1, "IN": 0.16}
SOURCES = {"seo": 0.4, "ads": 0.3, "referral": 0.2, "direct": 0.1}
#: The A/B test: each landing page's true conversion rate.
LANDING_PAGES = {"a": 0.05, "b": 0.08}


def generate(
    pp: Analytics,
    *,
    users: int = 5000,
    days: int = 60,
    songs: int = 200,
    seed: int = 1,
    first_id: int = FIRST_ID,
) -> dict[str, Any]:
    """Write demo events and counters ending now; returns what was written
    (and ``ids``: the first and last demo user id)."""
    if users < 1 or days < 1:
        raise ValueError("users and days must be at least 1")
    rng = np.random.default_rng(seed)
    now_ts = pp.now().timestamp() - 1
    day_starts = _day_starts(pp, days)
    externals = demo_ids(pp, users, first_id)
    signup_ts, act_rows, act_ts = _activity(rng, day_starts, users, now_ts)
    written: Counter[str] = Counter()
    written["signup"] = pp.import_arrays("signup", externals, signup_ts)
    written.update(_properties(pp, rng, externals, signup_ts))
    act_ids = externals[act_rows]
    written["active"] = pp.import_arrays("active", act_ids, act_ts)
    picked: dict[str, np.ndarray] = {}
    for event, share in (("login", 0.7), ("song:played", 0.6), ("purchase", 0.04)):
        picked[event] = rng.random(len(act_ids)) < share
        written[event] = pp.import_arrays(event, act_ids[picked[event]], act_ts[picked[event]])
    for member in externals[rng.random(users) < 0.08]:
        pp.mark_unique("premium", member.item() if hasattr(member, "item") else member)
        written["premium"] += 1
    rows = _counter_rows(
        rng, act_ts, act_ts[picked["song:played"]], act_ts[picked["purchase"]], songs
    )
    for start in range(0, len(rows), 5000):
        pp.count_many(rows[start : start + 5000])
    written["counter rows"] = len(rows)
    written["decisions"] = _ab_test(pp, rng, min(users, 2000))
    ids = (externals[0].item(), externals[-1].item())
    return {"users": users, "days": days, "ids": ids, "written": dict(written)}


def _choice(rng: np.random.Generator, shares: dict[str, float], size: int) -> np.ndarray:
    values = list(shares)
    weights = np.array([shares[v] for v in values])
    return np.array(values, dtype=object)[
        rng.choice(len(values), size=size, p=weights / weights.sum())
    ]


def _properties(
    pp: Analytics, rng: np.random.Generator, externals: Any, signup_ts: np.ndarray
) -> dict[str, int]:
    """Person properties (plan, country) and the signups' source: so every page
    can be broken down at first sight."""
    users = len(externals)
    ids = externals.tolist()
    return {
        "plan": pp.import_properties("plan", ids, _choice(rng, PLANS, users)),
        "country": pp.import_properties("country", ids, _choice(rng, COUNTRIES, users)),
        "signup source": pp.import_event_property(
            "signup", "source", ids, signup_ts, _choice(rng, SOURCES, users)
        ),
    }


def demo_ids(pp: Analytics, users: int, first_id: int = FIRST_ID) -> Any:
    """The demo users' ids: ``first_id`` onwards, or ``demo-user-N`` strings."""
    if pp.id_codec.mode != "int":
        return np.array([STRING_IDS.format(i) for i in range(1, users + 1)])
    last = first_id + users - 1
    max_id = getattr(pp.id_codec, "max_id", last)
    if first_id < 1 or last > max_id:
        raise ValueError(
            f"demo ids {first_id:,} to {last:,} do not fit MAX_ID {max_id:,}: "
            "give a smaller first id, fewer users, or a larger MAX_ID"
        )
    return np.arange(first_id, last + 1, dtype=np.int64)


def _day_starts(pp: Analytics, days: int) -> np.ndarray:
    first_day = pp.now().date() - dt.timedelta(days=days - 1)
    return np.array(
        [pp.period("day", first_day + dt.timedelta(days=d)).start.timestamp() for d in range(days)]
    )


def _activity(
    rng: np.random.Generator, day_starts: np.ndarray, users: int, now_ts: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signup time per user; (user row, time) of every day they were active."""
    days = len(day_starts)
    weekend = np.array(
        [dt.datetime.fromtimestamp(s + 43200, dt.UTC).weekday() >= 5 for s in day_starts]
    )
    # Today is not over: only the share of its signups and visits made by now happens.
    elapsed = np.clip((now_ts - day_starts[-1] - 7 * 3600) / (16 * 3600), 0.02, 1.0)
    weights = (1 + 0.03 * np.arange(days)) * np.where(weekend, 0.6, 1.0)
    weights[-1] *= elapsed
    signup_day = np.sort(rng.choice(days, size=users, p=weights / weights.sum()))
    signup_ts = _times(rng, day_starts, signup_day, now_ts, (8, 22))
    engagement = rng.beta(2, 2, users) * 1.5
    rows, stamps = [np.arange(users)], [np.minimum(signup_ts + 60, now_ts)]
    for d in range(1, days):
        eligible = np.flatnonzero(signup_day < d)
        k = d - signup_day[eligible]
        today = elapsed if d == days - 1 else 1.0
        chance = np.clip(
            engagement[eligible] * 0.55 * k**-0.5 * (0.7 if weekend[d] else 1.0) * today, 0, 1
        )
        chosen = eligible[rng.random(len(eligible)) < chance]
        rows.append(chosen)
        stamps.append(_times(rng, day_starts, np.full(len(chosen), d), now_ts, (7, 23)))
    return signup_ts, np.concatenate(rows), np.concatenate(stamps)


def _times(
    rng: np.random.Generator,
    day_starts: np.ndarray,
    day: np.ndarray,
    now_ts: float,
    hours: tuple[int, int],
) -> np.ndarray:
    """A time within ``hours`` of each ``day``; today's are spread up to now, so the
    current hour holds its share, not everything after it."""
    share = rng.random(len(day))
    start = day_starts[day] + hours[0] * 3600
    end = np.minimum(day_starts[day] + hours[1] * 3600, now_ts)
    early = end <= start  # today, before the usual first hour: from midnight
    start = np.where(early, day_starts[day], start)
    end = np.maximum(end, start + 1)
    return np.minimum(start + share * (end - start), now_ts)


def _counter_rows(
    rng: np.random.Generator,
    act_ts: np.ndarray,
    played_ts: np.ndarray,
    bought_ts: np.ndarray,
    songs: int,
) -> list[tuple[str, Any, float, Any]]:
    """Counters that agree with the events, added up per hour or per day first."""
    hours = (act_ts // 3600) * 3600
    paths = rng.choice(len(PATHS), size=len(act_ts), p=PATH_WEIGHTS)
    views = Counter(zip(paths.tolist(), hours.tolist(), strict=True))
    rows: list[tuple[str, Any, float, Any]] = [
        ("page:view", PATHS[p], n * 3, float(h)) for (p, h), n in views.items()
    ]
    popularity = 1 / np.arange(1, songs + 1) ** 1.1
    per_event = rng.integers(1, 4, len(played_ts))  # each played event: 1 to 3 plays
    play_ts = np.repeat(played_ts, per_event)
    plays = rng.choice(songs, size=len(play_ts), p=popularity / popularity.sum())
    song_hours = Counter(zip(plays.tolist(), ((play_ts // 3600) * 3600).tolist(), strict=True))
    rows += [("song:played", f"song-{s + 1}", n, float(t)) for (s, t), n in song_hours.items()]
    sales = Counter(((bought_ts // 3600) * 3600).tolist())
    rows += [("revenue", None, round(n * PRICE, 2), float(t)) for t, n in sales.items()]
    return rows


def _ab_test(pp: Analytics, rng: np.random.Generator, visitors: int) -> int:
    """A running A/B test of two landing pages, by country."""
    landing = pp.decision("landing-page")
    options = list(LANDING_PAGES)
    for _ in range(visitors):
        option = options[int(rng.integers(len(options)))]
        country = "US" if rng.random() < 0.6 else "FR"
        landing.record(option, {"country": country})
        if rng.random() < LANDING_PAGES[option]:
            landing.record(option, {"country": country}, success=1)
    return visitors
