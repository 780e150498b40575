"""``manage.py porpoise_import``: load events from CSV or JSON Lines."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError
from tqdm import tqdm

from ..base import PorpoiseCommand

MAX_REPORTED = 20


def parse_time(value: Any) -> Any:
    """Epoch seconds, an ISO 8601 date, or an ISO 8601 datetime with an offset."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError("time is missing")
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    if len(text) == 10:
        return dt.date.fromisoformat(text)
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset (e.g. 2026-11-22T10:00:00+01:00)")
    return parsed


def parse_id(value: Any, id_mode: str) -> Any:
    if id_mode == "int" and isinstance(value, str):
        text = value.strip()
        if not text.isdigit():
            raise ValueError(f"id {value!r} is not a non-negative integer")
        return int(text)
    return value


class Command(PorpoiseCommand):
    help = (
        "Import events from a CSV file (columns event,id,time) or JSON Lines "
        '({"event": ..., "id": ..., "time": ...}). time is epoch seconds, a date, or an '
        "ISO 8601 datetime with an offset. Bad rows are reported with their line numbers; "
        "good rows are kept."
    )
    examples = """
events.csv
events.jsonl --granularities day,week
- --format csv < events.csv
"""

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path", help="file to read, or - for standard input")
        parser.add_argument(
            "--format", choices=["csv", "jsonl"], help="default: from the file name"
        )
        parser.add_argument("--batch-size", type=int, default=100_000, help="rows per write")
        parser.add_argument(
            "--granularities", help="comma-separated, e.g. day,week (default: PORPOISE setting)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["path"]
        fmt = options["format"] or ("jsonl" if str(path).endswith((".jsonl", ".ndjson")) else "csv")
        if path != "-" and not Path(path).is_file():
            raise CommandError(f"no such file: {path}")
        grans = options["granularities"].split(",") if options["granularities"] else None
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        pp = self.analytics
        if grans is not None:
            try:
                pp.check_event_granularities(grans)
            except ValueError as exc:
                raise CommandError(str(exc)) from None

        stream = sys.stdin if path == "-" else open(path, encoding="utf-8", newline="")  # noqa: SIM115
        imported = 0
        bad: list[tuple[int, str]] = []
        batch: list[tuple[str, Any, float]] = []
        try:
            rows = self._rows(stream, fmt)
            progress = tqdm(rows, unit=" rows", file=self.stderr, disable=None)
            for line, raw in progress:
                try:
                    if isinstance(raw, ValueError):
                        raise raw
                    if not isinstance(raw, dict):
                        raise ValueError("expected an object with event, id and time")
                    row = pp.check_mark(
                        raw.get("event"),
                        parse_id(raw.get("id"), pp.id_codec.mode),
                        parse_time(raw.get("time")),
                    )
                except (ValueError, TypeError) as exc:
                    bad.append((line, str(exc)))
                    continue
                batch.append(row)
                if len(batch) >= options["batch_size"]:
                    imported += pp.bulk_import(batch, granularities=grans)
                    batch = []
            imported += pp.bulk_import(batch, granularities=grans)
        finally:
            if stream is not sys.stdin:
                stream.close()

        self.stdout.write(f"imported {imported} event(s); {len(bad)} bad row(s)")
        for line, message in bad[:MAX_REPORTED]:
            self.stderr.write(f"  line {line}: {message}")
        if len(bad) > MAX_REPORTED:
            self.stderr.write(f"  ... and {len(bad) - MAX_REPORTED} more")

    def _rows(self, stream: io.TextIOBase | Any, fmt: str) -> Iterator[tuple[int, Any]]:
        if fmt == "jsonl":
            for number, text in enumerate(stream, start=1):
                if not text.strip():
                    continue
                try:
                    yield number, json.loads(text)
                except json.JSONDecodeError as exc:
                    yield number, ValueError(f"invalid JSON: {exc.msg}")
            return
        reader = csv.DictReader(stream)
        missing = {"event", "id", "time"} - set(reader.fieldnames or [])
        if missing:
            names = ", ".join(sorted(missing))
            raise CommandError(f"the CSV header must name event, id and time; missing: {names}")
        for record in reader:
            yield reader.line_num, record
