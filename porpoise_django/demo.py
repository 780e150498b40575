"""Demo data with realistic signup and retention curves (``manage.py porpoise_demo``).

Signups grow slowly with fewer on weekends; each user has an engagement level,
and the chance of coming back ``k`` days after signing up decays like
``k ** -0.5`` (the usual retention curve shape); a share of active users log
in, play songs and buy. Counters get page views by path, plays by song
(Zipf-distributed popularity) and revenue.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import numpy as np

from .engine import Analytics

PATHS = ["/", "/songs/", "/pricing/", "/account/"]
PATH_WEIGHTS = [0.45, 0.35, 0.12, 0.08]


def generate(
    pp: Analytics, *, users: int = 5000, days: int = 60, songs: int = 200, seed: int = 1
) -> dict[str, Any]:
    """Write demo events and counters ending today; returns what was written."""
    if users < 1 or days < 1:
        raise ValueError("users and days must be at least 1")
    rng = np.random.default_rng(seed)
    today = pp.now().date()
    first_day = today - dt.timedelta(days=days - 1)
    day_starts = np.array(
        [pp.period("day", first_day + dt.timedelta(days=d)).start.timestamp() for d in range(days)]
    )
    weekend = np.array([(first_day + dt.timedelta(days=d)).weekday() >= 5 for d in range(days)])
    weights = (1 + 0.03 * np.arange(days)) * np.where(weekend, 0.6, 1.0)
    signup_day = np.sort(rng.choice(days, size=users, p=weights / weights.sum()))
    ids = np.arange(1, users + 1)
    externals: Any = ids if pp.id_codec.mode == "int" else np.array([f"user-{i}" for i in ids])
    signup_ts = day_starts[signup_day] + rng.integers(8 * 3600, 22 * 3600, users)
    engagement = rng.beta(2, 2, users) * 1.5

    active_ids, active_ts = [externals], [signup_ts + 60]
    for d in range(1, days):
        eligible = np.flatnonzero(signup_day < d)
        k = d - signup_day[eligible]
        chance = np.clip(engagement[eligible] * 0.55 * k**-0.5 * (0.7 if weekend[d] else 1.0), 0, 1)
        chosen = eligible[rng.random(len(eligible)) < chance]
        active_ids.append(externals[chosen])
        active_ts.append(day_starts[d] + rng.integers(7 * 3600, 23 * 3600, len(chosen)))
    act_ids = np.concatenate(active_ids)
    act_ts = np.concatenate(active_ts)
    # Today's events happen before now, not later today.
    now_ts = pp.now().timestamp() - 1
    act_ts = np.minimum(act_ts, now_ts)
    signup_ts = np.minimum(signup_ts, now_ts)

    written: Counter[str] = Counter()
    written["signup"] = pp.import_arrays("signup", externals, signup_ts)
    written["active"] = pp.import_arrays("active", act_ids, act_ts)
    for event, share in (("login", 0.7), ("song:played", 0.6), ("purchase", 0.04)):
        picked = rng.random(len(act_ids)) < share
        written[event] = pp.import_arrays(event, act_ids[picked], act_ts[picked])
    for member in externals[rng.random(users) < 0.08]:
        pp.mark_unique("premium", member.item() if hasattr(member, "item") else member)
        written["premium"] += 1

    # Counters, aggregated per hour (page views) or per day (songs, revenue)
    # before writing: the demo should load in seconds.
    hours = (act_ts // 3600) * 3600
    paths = rng.choice(len(PATHS), size=len(act_ts), p=PATH_WEIGHTS)
    views = Counter(zip(paths.tolist(), hours.tolist(), strict=True))
    rows: list[tuple[str, Any, float, Any]] = [
        ("page:view", PATHS[p], n * 3, float(h)) for (p, h), n in views.items()
    ]
    ranks = np.arange(1, songs + 1)
    popularity = 1 / ranks**1.1
    plays = rng.choice(songs, size=int(len(act_ts) * 0.6), p=popularity / popularity.sum())
    play_days = day_starts[rng.integers(0, days, len(plays))] + 12 * 3600
    play_days = np.minimum(play_days, now_ts)
    song_counts = Counter(zip(plays.tolist(), play_days.tolist(), strict=True))
    rows += [("song:played", f"song-{s + 1}", n, float(t)) for (s, t), n in song_counts.items()]
    purchase_days = Counter(
        (
            np.minimum(act_ts[rng.random(len(act_ts)) < 0.04] // 86400 * 86400 + 43200, now_ts)
        ).tolist()
    )
    rows += [("revenue", None, round(n * 9.99, 2), float(t)) for t, n in purchase_days.items()]
    for start in range(0, len(rows), 5000):
        pp.count_many(rows[start : start + 5000])
    written["counter rows"] = len(rows)
    return {"users": users, "days": days, "written": dict(written)}
