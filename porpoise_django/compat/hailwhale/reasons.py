"""hailwhale's ranking of dimensions and its decisions from "reasons".

``rank_subdimensions_scalar`` marks the dimensions that hold much of a total
(over 10 and over a tenth; a parent is not important when its children make
up its total); ``rank_subdimensions_ratio`` those whose ratio differs by over
10 % from the whole, with more than 5 in the denominator. ``weighted_reasons``
ranks each option counted under ``[pk, decision, option]`` against the
decision as a whole, on the option's overall numbers and on the most telling
of the dimensions known about the visitor, and sorts the options into good,
bad and not yet known ("test"); ``decide_from_reasons`` draws among them by
weight, sometimes trying a test or bad option (``test_idea_threshold``,
``bad_idea_threshold``). The arithmetic is hailwhale's.
"""

from __future__ import annotations

import math
import random
from typing import Any

from porpoise_django.compat.hailwhale.keys import key_of, maybe_dumps, parent_of, path_of, try_loads
from porpoise_django.engine import dimension_paths

#: A reason counts when its significance is over this (hailwhale's 2).
SIGNIFICANT = 2
ReasonMap = dict[Any, dict[str, Any]]


def _split(formula: str) -> tuple[str, str | None]:
    top, _, bottom = formula.partition("/")
    return top, bottom or None


class Reasons:
    """The ranking and decision methods of ``Whale`` (they read through it)."""

    @classmethod
    def _ranked_paths(cls: Any, pk: Any, dimension: Any, recursive: bool) -> tuple[str, list[str]]:
        base = path_of(dimension)
        subs = (
            cls.all_subdimensions(pk, dimension)
            if recursive
            else cls.get_subdimensions(pk, dimension)
        )
        return base, [path_of(s) for s in subs]

    @classmethod
    def _with_points(
        cls: Any, ranked: dict[str, Any], pk: Any, metrics: list[str], period: Any
    ) -> None:
        for key, info in ranked.items():
            info["points"] = cls.plotpoints(pk, info["dimension"], metrics, period=period)[key]

    @classmethod
    def rank_subdimensions_scalar(
        cls: Any,
        pk: Any,
        dimension: Any = "_",
        metric: str = "hits",
        period: Any = None,
        recursive: bool = True,
        prune_parents: bool = True,
        points: bool = False,
    ) -> dict[str, dict[str, Any]]:
        """Per dimension below ``dimension``: its total of ``metric`` and whether
        it is important (over 10, and over a tenth of the total)."""
        base, paths = cls._ranked_paths(pk, dimension, recursive)
        sums = cls.sums(pk, [base, *paths], [metric], period)
        total = sums[0].get(metric, 0)
        ranked: dict[str, dict[str, Any]] = {}
        for path, values in zip(paths, sums[1:], strict=True):
            score = values.get(metric, 0)
            ranked[key_of(path)] = {
                "score": score,
                "important": score > 10 and score > total / 10,
                "effect": total - score,
                "difference": total - score,
                "value": score,
                "count": score,
                "dimension": key_of(path),
            }
        if recursive and prune_parents:
            for path in paths:
                info = ranked[key_of(path)]
                children = sum(ranked[key_of(p)]["score"] for p in paths if parent_of(p) == path)
                if info["important"] and info["score"] - children < total / 10:
                    info["important"] = False
        if points:
            cls._with_points(ranked, pk, [metric], period)
        return ranked

    @classmethod
    def rank_subdimensions_ratio(
        cls: Any,
        pk: Any,
        numerator: str,
        denominator: str = "hits",
        dimension: Any = "_",
        period: Any = None,
        recursive: bool = True,
        points: bool = False,
    ) -> dict[str, dict[str, Any]]:
        """Per dimension below ``dimension``: its ratio, how far (relatively) from
        the whole's, and whether that is important (over 10 %, over 5 counted)."""
        top, bottom = numerator, denominator
        base, paths = cls._ranked_paths(pk, dimension, recursive)
        sums = cls.sums(pk, [base, *paths], [top, bottom], period)
        top_total, bottom_total = sums[0].get(top, 0), sums[0].get(bottom, 0)
        whole = top_total / bottom_total if bottom_total else 0
        ranked: dict[str, dict[str, Any]] = {}
        for path, values in zip(paths, sums[1:], strict=True):
            value, count = values.get(top, 0), values.get(bottom, 0)
            score = value / count if count else 0
            difference = (score - whole) / whole if whole else 0
            ranked[key_of(path)] = {
                "score": score,
                "difference": difference,
                "effect": difference * count * whole,
                "value": value,
                "count": count,
                "important": count > 5 and math.fabs(difference) > 0.1,
                "dimension": key_of(path),
            }
        if points:
            cls._with_points(ranked, pk, [top, bottom, f"{top}/{bottom}"], period)
        return ranked

    @classmethod
    def rank(
        cls: Any,
        pk: Any,
        formula: str,
        dimension: Any = "_",
        period: Any = None,
        recursive: bool = True,
        prune_parents: bool = True,
        points: bool = False,
    ) -> dict[str, dict[str, Any]]:
        """``rank_subdimensions_scalar`` for ``"metric"``, ``..._ratio`` for ``"a/b"``."""
        top, bottom = _split(formula)
        if bottom is None:
            return cls.rank_subdimensions_scalar(
                pk, dimension, top, period, recursive, prune_parents, points
            )
        return cls.rank_subdimensions_ratio(pk, top, bottom, dimension, period, recursive, points)

    @classmethod
    def reasons_for(
        cls: Any,
        pk: Any,
        formula: str = "value/hits",
        known_data: Any = None,
        period: Any = None,
        recursive: bool = True,
    ) -> dict[str, Any]:
        """Why option ``pk`` (``[pk_base, decision, option]``) is good or bad: its
        overall numbers (``base``) and the best known dimension (``good``), each
        against the decision's (``parent``). As in hailwhale, no dimension is
        ever picked as ``bad`` (its comparison with nothing is always false)."""
        pk_base, decision, _option = pk
        ranks = cls.cached_rank(pk, formula, "_", period=period, recursive=recursive)
        overall = cls.cached_rank(
            [pk_base, decision], formula, "_", period=period, recursive=recursive
        )
        parent_score = overall["_"]["score"]
        parent_count = overall["_"]["count"] or 1
        ranks["_"]["effect"] = ranks["_"]["count"] * ranks["_"]["difference"]
        known = _known(known_data)
        best = None
        for key, info in ranks.items():
            diff = info["score"] - parent_score
            info["value_diff"] = info["value"] - overall["_"]["value"]
            info["difference"] += diff
            if math.fabs(diff) > 0 and info["count"] > 0:
                info["effect"] += diff * info["count"]
                info["significance"] = ((0.5 * info["effect"]) ** 2) / parent_count
            else:
                info["effect"] = info["significance"] = 0
            telling = path_of(key) in known and info["important"]
            if telling and (best is None or info["score"] > ranks[best]["score"]):
                best = key
        reasons: dict[str, Any] = {
            "good": ranks[best] if best is not None else {},
            "bad": {},
            "base": ranks["_"],
            "parent": overall["_"],
        }
        reasons["high"] = reasons["good"].get("difference", 0)
        reasons["high_sig"] = reasons["good"].get("significance", 0) > 4
        reasons["low"] = 0
        reasons["low_sig"] = False
        return reasons

    @classmethod
    def weighted_reasons(
        cls: Any,
        pk_base: Any,
        decision: Any,
        options: Any,
        formula: str = "value/hits",
        known_data: Any = None,
        period: Any = None,
        recursive: bool = True,
    ) -> tuple[ReasonMap, ReasonMap, ReasonMap]:
        """``(good, bad, test)``: the options sorted by their reasons, each with a weight."""
        good: ReasonMap = {}
        bad: ReasonMap = {}
        test: ReasonMap = {}
        for option in options:
            why = cls.reasons_for(
                [pk_base, decision, option], formula, known_data, period, recursive
            )
            best = why["good"] or why["base"]
            worst = why["bad"] or why["base"]
            if best["effect"] > 1 and best["significance"] > SIGNIFICANT:
                good[option] = why
            elif worst["effect"] < -1 or (
                worst["effect"] < 0 and worst["significance"] > SIGNIFICANT
            ):
                bad[option] = why
            else:
                test[option] = why
        goodness = sum(math.fabs(g["good"].get("effect", 1)) for g in good.values()) or 1
        badness = sum(math.fabs(b["bad"].get("effect", 1)) for b in bad.values()) or 1
        for why in good.values():
            why["weight"] = math.fabs(why["good"].get("effect", 1) / goodness)
        for why in bad.values():
            why["weight"] = math.fabs(why["bad"].get("effect", 1) / badness)
        for why in test.values():
            why["weight"] = 1
        return good, bad, test

    @staticmethod
    def decide_from_reasons(
        good: ReasonMap,
        bad: ReasonMap,
        test: ReasonMap,
        bad_idea_threshold: float = 0.05,
        test_idea_threshold: float = 0.05,
        rng: random.Random | None = None,
    ) -> Any:
        """An option drawn by weight: a test one when nothing is known yet (or, by
        chance, ``test_idea_threshold`` of the time), a bad one when there is no
        good one (or ``bad_idea_threshold`` of the time), else a good one."""
        draw = rng or random.Random()
        if test and ((not good and not bad) or draw.random() < test_idea_threshold):
            return _weighted(test, draw)
        if not good or (bad and draw.random() < bad_idea_threshold):
            return _weighted(bad or test, draw)
        return _weighted(good, draw)

    @classmethod
    def decide_by_reasons(
        cls: Any,
        pk_base: Any,
        decision: Any,
        options: Any,
        formula: str = "value/hits",
        known_data: Any = None,
        period: Any = None,
        bad_idea_threshold: float = 0.05,
        test_idea_threshold: float = 0.05,
        seed: int | None = None,
    ) -> Any:
        """hailwhale's ``decide(pk_base, decision, options, formula, known_data, ...)``."""
        if not list(options):
            raise ValueError("decide needs at least one option")
        good, bad, test = cls.weighted_reasons(
            pk_base, decision, options, formula, known_data, period
        )
        rng = random.Random(seed) if seed is not None else None
        return cls.decide_from_reasons(
            good, bad, test, bad_idea_threshold, test_idea_threshold, rng
        )


def _known(known_data: Any) -> set[str]:
    """The dimension paths known about the visitor: one value (``"us"``) is a
    dimension; of a dict (``{"country": "uk"}``) the paths below the top level."""
    value = try_loads(known_data) if isinstance(known_data, str) else known_data
    if value in (None, "", {}, []):
        return set()
    if isinstance(value, (str, int)):
        return {path_of(str(value))}
    # As hailwhale: of a dict or a list, the paths two levels deep or more.
    return {p for p in dimension_paths(value) if "/" in p}


def _weighted(reasons: ReasonMap, draw: random.Random) -> Any:
    items = list(reasons.items())
    pick = draw.uniform(0, sum(r.get("weight", 1) for _, r in items))
    for option, why in items:
        if pick < why.get("weight", 1):
            return option
        pick -= why.get("weight", 1)
    return items[-1][0]


__all__ = ["Reasons", "maybe_dumps"]
