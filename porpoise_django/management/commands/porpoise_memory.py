"""``manage.py porpoise_memory``: bytes per user per tracked period."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError

from porpoise_django.management.base import PorpoiseCommand, parse_date


class Command(PorpoiseCommand):
    help = (
        "Memory of each event's bitmaps (MEMORY USAGE over its chunks) for the periods "
        "holding a date, with the users in them and bytes per user."
    )
    examples = """
                       # every event, today's periods
--event active --date 2026-11-01
--json
"""

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--event", action="append", help="event (repeatable; default: all)")
        parser.add_argument("--date", type=parse_date, help="a day in the periods (default: today)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            rows = self.analytics.memory_report(options["event"], options["date"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        self.stdout.write(
            f"{'event':<28} {'period':<12} {'users':>10} {'bytes':>12} {'bytes/user':>11}"
        )
        for row in rows:
            per_user = "-" if row["bytes_per_user"] is None else f"{row['bytes_per_user']:.3f}"
            figures = f"{row['users']:>10,} {row['bytes']:>12,} {per_user:>11}"
            self.stdout.write(f"{row['event']:<28} {row['period']:<12} {figures}")
