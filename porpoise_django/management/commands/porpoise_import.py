"""``manage.py porpoise_import``: load events from CSV or JSON Lines."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError
from tqdm import tqdm

from porpoise_django.management.base import PorpoiseCommand
from porpoise_django.tables import csv_uncell

MAX_REPORTED = 20
#: A longer line is a bad row, not parsed: no real event row comes near it.
MAX_LINE_BYTES = 1 << 20
_INTEGER = re.compile(r"[0-9]{1,40}")  # ASCII digits: "١٢٣".isdigit() is true too


def parse_time(value: Any) -> Any:
    """Epoch seconds, an ISO 8601 date, or an ISO 8601 datetime with an offset."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if value is None or value == "":
        raise ValueError("time is missing")
    if not isinstance(value, str):
        raise ValueError(
            f"time must be epoch seconds or an ISO 8601 string, got {json.dumps(value)[:40]}"
        )
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
        if not _INTEGER.fullmatch(text):
            raise ValueError(f"id {value[:40]!r} is not a non-negative integer")
        return int(text)
    return value


def decoded_lines(stream: Any) -> Iterator[tuple[int, str | ValueError]]:
    """``(line number, text)`` of a binary stream; a line that is not UTF-8 or is
    longer than :data:`MAX_LINE_BYTES` comes as a ``ValueError`` (a bad row)."""
    number = 0
    while True:
        # Never more than MAX_LINE_BYTES in memory: a longer line is skipped
        # in pieces, not read whole first.
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            while raw and not raw.endswith(b"\n"):
                raw = stream.readline(MAX_LINE_BYTES)
            yield number, ValueError(f"line is longer than {MAX_LINE_BYTES} bytes")
            continue
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, ValueError(f"not UTF-8 (byte {exc.start + 1})")


class Command(PorpoiseCommand):
    help = (
        "Import events from a CSV file (columns event,id,time) or JSON Lines "
        '({"event": ..., "id": ..., "time": ...}). time is epoch seconds, a date, or an '
        "ISO 8601 datetime with an offset. Bad rows are reported with their line numbers; "
        "good rows are kept, and the command exits with status 1 if any row was bad "
        "(--allow-bad-rows: 0)."
    )
    examples = """
events.csv
events.jsonl --granularities day,week
- --format csv < events.csv
events.csv --allow-bad-rows
--from-bitmapist redis://old-host:6379/0
"""

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path", nargs="?", help="file to read, or - for standard input")
        parser.add_argument(
            "--from-bitmapist",
            metavar="URL",
            help="move a bitmapist keyspace (redis://...) into this store instead of a file; "
            "resumable, every bucket verified",
        )
        parser.add_argument(
            "--migration-name",
            default="bitmapist",
            help="name under which finished buckets are noted (to resume a run)",
        )
        parser.add_argument(
            "--format", choices=["csv", "jsonl"], help="default: from the file name"
        )
        parser.add_argument("--batch-size", type=int, default=100_000, help="rows per write")
        parser.add_argument(
            "--granularities", help="comma-separated, e.g. day,week (default: PORPOISE setting)"
        )
        parser.add_argument(
            "--allow-bad-rows",
            action="store_true",
            help="exit with status 0 even if some rows were bad (they are still reported)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["from_bitmapist"]:
            self._from_bitmapist(options["from_bitmapist"], options["migration_name"])
            return
        path = options["path"]
        if path is None:
            raise CommandError("give a file to import (or -), or --from-bitmapist URL")
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

        stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
        imported = 0
        bad: list[tuple[int, str]] = []  # the first MAX_REPORTED only
        bad_rows = 0
        batch: list[tuple[str, Any, float]] = []
        try:
            rows = self._rows(decoded_lines(stream), fmt)
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
                except (ValueError, TypeError, OverflowError) as exc:
                    bad_rows += 1
                    if len(bad) < MAX_REPORTED:
                        bad.append((line, str(exc)[:300]))
                    continue
                batch.append(row)
                if len(batch) >= options["batch_size"]:
                    imported += pp.bulk_import(batch, granularities=grans)
                    batch = []
            imported += pp.bulk_import(batch, granularities=grans)
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()

        self.stdout.write(f"imported {imported} event(s); {bad_rows} bad row(s)")
        for line, message in bad:
            self.stderr.write(f"  line {line}: {message}")
        if bad_rows > len(bad):
            self.stderr.write(f"  ... and {bad_rows - len(bad)} more")
        if bad_rows and not options["allow_bad_rows"]:
            raise CommandError(
                f"{bad_rows} bad row(s) were skipped (--allow-bad-rows to accept that)",
                returncode=1,
            )

    def _from_bitmapist(self, url: str, name: str) -> None:
        import redis

        from porpoise_django.compat.bitmapist_data import migrate

        try:
            source = redis.Redis.from_url(url, socket_timeout=30)
            source.ping()
        except (ValueError, redis.RedisError) as exc:
            raise CommandError(f"cannot reach the bitmapist Redis at {url}: {exc}") from None
        bar = tqdm(unit=" keys", file=self.stderr, disable=None)
        try:
            report = migrate(source, self.analytics, name=name, progress=bar.update)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        finally:
            bar.close()
        self.stdout.write(
            f"moved {report.keys - report.resumed} key(s) into {report.buckets} bucket(s), "
            f"{report.events} event(s), every bucket verified, in {report.seconds:.1f} s"
            + (f"; {report.resumed} key(s) done by an earlier run" if report.resumed else "")
        )
        for reason, count in sorted(report.skipped.items()):
            self.stdout.write(f"  skipped {count} key(s): {reason}")

    def _rows(
        self, lines: Iterator[tuple[int, str | ValueError]], fmt: str
    ) -> Iterator[tuple[int, Any]]:
        if fmt == "jsonl":
            for number, text in lines:
                if isinstance(text, ValueError):
                    yield number, text
                elif text.strip():
                    try:
                        yield number, json.loads(text)
                    except json.JSONDecodeError as exc:
                        yield number, ValueError(f"invalid JSON: {exc.msg}")
                    except RecursionError:
                        yield number, ValueError("invalid JSON: nested too deeply")
                    except ValueError as exc:  # e.g. an integer of 4,300+ digits
                        yield number, ValueError(f"invalid JSON: {str(exc)[:120]}")
            return
        header: list[str] | None = None
        for number, text in lines:
            if isinstance(text, ValueError):
                if header is None:
                    raise CommandError(f"line {number}: the CSV header is unreadable: {text}")
                yield number, text
                continue
            try:
                # One line at a time, so that a bad line is one bad row.
                cells = next(csv.reader([text]), [])
            except csv.Error as exc:
                yield number, ValueError(f"invalid CSV: {exc}")
                continue
            if header is None:
                header = [c.strip() for c in cells]
                missing = {"event", "id", "time"} - set(header)
                if missing:
                    names = ", ".join(sorted(missing))
                    raise CommandError(
                        f"the CSV header must name event, id and time; missing: {names}"
                    )
                continue
            if cells:
                # Cells porpoise_export kept from reading as formulas ('=...).
                yield number, dict(zip(header, map(csv_uncell, cells), strict=False))
