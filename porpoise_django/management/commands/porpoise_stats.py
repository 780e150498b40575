"""``manage.py porpoise_stats``: what is stored, and how much memory it takes."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from porpoise_django import delivery
from porpoise_django.delivery import deadletters, folder
from porpoise_django.management.base import PorpoiseCommand


class Command(PorpoiseCommand):
    help = "Show the events, unique events and counters stored, with recent figures and memory."
    examples = """
            # a table
--json      # the same as JSON
"""

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")

    def handle(self, *args: Any, **options: Any) -> None:
        report = self.report()
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            self.print_report(report)

    def report(self) -> dict[str, Any]:
        """Events, uniques, counters, chunks, server memory and the outage spool."""
        pp = self.analytics
        tracked = set(pp.granularities)
        events = []
        names = pp.event_names()
        day = [pp.event(n).day() for n in names] if "day" in tracked else []
        week = [pp.event(n).week() for n in names] if "week" in tracked else []
        today = pp.count_bitmaps(day) if day else [None] * len(names)
        this_week = pp.count_bitmaps(week) if week else [None] * len(names)
        for name, t, w in zip(names, today, this_week, strict=True):
            span = pp.event_span(name)
            first, last = (span[0].isoformat(), span[1].isoformat()) if span else (None, None)
            events.append({"event": name, "today": t, "this_week": w, "first": first, "last": last})
        counted = set(pp.counter_granularities)

        def total(name: str, granularity: str) -> Any:
            if granularity not in counted:
                return None
            return round(pp.counter(name).total(pp.period(granularity)), 6)  # float-sum noise

        spool = delivery.get_buffer().spool_stats()
        stats = delivery.get_buffer().stats
        dead = deadletters.summary(delivery.spool_dir(), folder.target())
        return {
            "prefix": pp.keys.prefix,
            "time_zone": str(pp.tz),
            "events": events,
            "unique_events": pp.unique_names(),
            "counters": [
                {"counter": name, "today": total(name, "day"), "this_week": total(name, "week")}
                for name in pp.counter_names()
            ],
            "chunks": len(pp.chunks()),
            "server_memory": pp.client.info("memory").get("used_memory_human"),
            "spool": spool,
            "dead_letters": {**dead, "memory": spool["memory_dead_letters"]},
            "outages": {"failures": stats.failures, "dropped": stats.dropped + spool["dropped"]},
        }

    def print_report(self, report: dict[str, Any]) -> None:
        write = self.stdout.write
        spool = report["spool"]
        write(
            f"prefix {report['prefix']!r}, time zone {report['time_zone']}, "
            f"{report['chunks']} chunk(s), server memory {report['server_memory']}"
        )
        oldest = (
            dt.datetime.fromtimestamp(spool["oldest"], self.analytics.tz).isoformat(
                timespec="seconds"
            )
            if spool["oldest"]
            else "-"
        )
        write(
            f"spool: {spool['rows']} write(s), {spool['bytes']:,} bytes, oldest {oldest}, "
            f"dropped {report['outages']['dropped']} ({spool['path'] or 'no spool'})"
        )
        if spool.get("problem"):
            write(f"spool refused: {spool['problem']}")
        dead = report["dead_letters"]
        reasons = ", ".join(f"{k}: {n}" for k, n in sorted(dead["reasons"].items())) or "-"
        write(
            f"dead letters: {dead['count']} in {dead['files']} spool file(s) ({reasons})"
            + (f", {dead['memory']} in memory" if dead["memory"] else "")
            + ("; porpoise_replay --dead-letters sends them again" if dead["count"] else "")
        )
        write(f"\n{len(report['events'])} event(s):")
        write(f"  {'event':<32} {'today':>10} {'this week':>10}  last mark")
        now = self.analytics.now()
        for e in report["events"]:
            figures = f"{_n(e['today']):>10} {_n(e['this_week']):>10}"
            write(f"  {e['event']:<32} {figures}  {_when(e['last'], now)}")
        uniques = report["unique_events"]
        write(f"\n{len(uniques)} unique event(s): " + (", ".join(uniques) or "-"))
        write(f"\n{len(report['counters'])} counter(s):")
        write(f"  {'counter':<32} {'today':>12} {'this week':>12}")
        for c in report["counters"]:
            write(f"  {c['counter']:<32} {_n(c['today']):>12} {_n(c['this_week']):>12}")


def _n(value: Any) -> str:
    """1,234 or 1,008.99: at most two decimals, none for whole numbers."""
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


#: The registry keeps each event's first and last mark by 15-minute slot.
SLOT = 15 * 60


def _when(iso: str | None, now: dt.datetime) -> str:
    """The 15 minutes the latest mark fell in, and how long ago: the registry
    keeps the slot, not the instant (so never "now" for a mark of an hour ago)."""
    if not iso:
        return "-"
    last = dt.datetime.fromisoformat(iso)
    start = dt.datetime.fromtimestamp(last.timestamp() // SLOT * SLOT, last.tzinfo)
    end = min(start + dt.timedelta(seconds=SLOT), now)
    seconds = max(0, int((now - end).total_seconds()))
    ago = (
        next(
            f"{seconds // size} {unit} ago"
            for size, unit in ((86400, "d"), (3600, "h"), (60, "min"))
            if seconds >= size
        )
        if seconds >= 60
        else "just now"
    )
    return f"{start:%Y-%m-%d %H:%M}-{end:%H:%M} ({ago})"
