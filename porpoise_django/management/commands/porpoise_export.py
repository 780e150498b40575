"""``manage.py porpoise_export``: write the daily marks of events as CSV or JSON Lines."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from porpoise_django.management.base import PorpoiseCommand, parse_date
from porpoise_django.tables import csv_cell


class Command(PorpoiseCommand):
    help = (
        "Export who did which event on which day (rows event,id,time with time a date), "
        "in the format porpoise_import reads back."
    )
    examples = """
> events.csv                                  # every event, last 30 days
--event active --event login --from 2026-01-01 --to 2026-01-31
--format jsonl --output events.jsonl
"""

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--event", action="append", help="event to export (repeatable; default: all)"
        )
        parser.add_argument(
            "--from", dest="start", type=parse_date, help="first day (default: 29 days ago)"
        )
        parser.add_argument("--to", dest="end", type=parse_date, help="last day (default: today)")
        parser.add_argument("--format", choices=["csv", "jsonl"], default="csv")
        parser.add_argument("--output", help="file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        pp = self.analytics
        if "day" not in pp.granularities:
            raise CommandError("export reads daily bitmaps: add 'day' to PORPOISE['GRANULARITIES']")
        end: dt.date = options["end"] or pp.now().date()
        try:
            start: dt.date = options["start"] or end - dt.timedelta(days=29)
            days = pp.range("day", start, end)
        except (ValueError, OverflowError) as exc:
            raise CommandError(str(exc)) from None
        if options["output"] and not Path(options["output"]).resolve().parent.is_dir():
            raise CommandError(f"cannot write {options['output']}: its folder does not exist")
        names = options["event"] or pp.event_names()
        try:
            rows = self._write(pp, names, days, options)
        except OSError as exc:
            # A full disk, /dev/full, a closed pipe: say so, no traceback.
            raise CommandError(
                f"cannot write {options['output'] or 'to standard output'}: {exc.strerror or exc}"
            ) from None
        self.stderr.write(f"exported {rows} row(s)")

    def _write(self, pp: Any, names: list[str], days: Any, options: dict[str, Any]) -> int:
        """Write the rows; returns how many. CSV cells never start a formula
        (``tables.csv_cell``: a leading ``= + - @`` gets a ``'``, which
        ``porpoise_import`` takes off again)."""
        target = (
            open(options["output"], "w", encoding="utf-8", newline="")  # noqa: SIM115
            if options["output"]
            else contextlib.nullcontext(self.stdout)
        )
        rows = 0
        with target as out:
            writer = csv.writer(out, lineterminator="\n") if options["format"] == "csv" else None
            if writer:
                writer.writerow(["event", "id", "time"])
            for name in names:
                try:
                    event = pp.event(name)
                except ValueError as exc:
                    raise CommandError(str(exc)) from None
                for bitmap in event.over(days):
                    label = bitmap.period_start().date().isoformat()
                    for member in bitmap:
                        rows += 1
                        if writer:
                            writer.writerow([csv_cell(name), csv_cell(member), label])
                        else:
                            out.write(
                                json.dumps({"event": name, "id": member, "time": label}) + "\n"
                            )
            if hasattr(out, "flush"):
                out.flush()
        return rows
