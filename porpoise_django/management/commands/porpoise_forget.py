"""``manage.py porpoise_forget ID...``: erase ids from every bitmap and per-id counter."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from porpoise_django.engine import PorpoiseError
from porpoise_django.management.base import PorpoiseCommand
from porpoise_django.tracking.forgetting import forget


class Command(PorpoiseCommand):
    help = (
        "Forget ids (user pks) in the analytics: their bit in every event bucket, unique "
        "event, segment and person property, their per-id counter entries and (map id "
        "mode) their id map entry. Counter totals, metrics and series are kept."
    )
    examples = """
42
42 43 1001
ann@example.com
"""

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("ids", nargs="+", help="ids to forget (user pks)")

    def handle(self, *args: Any, **options: Any) -> None:
        pp = self.analytics
        ids: list[Any] = []
        for raw in options["ids"]:
            if pp.id_codec.mode == "int":
                try:
                    ids.append(int(raw))
                except ValueError:
                    raise CommandError(f"{raw!r} is not an integer id (ID_MODE is 'int')") from None
            else:
                ids.append(raw)
        try:
            for external in ids:
                pp.id_codec.check(external)  # every id checked before anything is erased
            done = forget(ids)
        except PorpoiseError as exc:
            raise CommandError(str(exc)) from None
        for item in done:
            self.stdout.write(
                f"forgot {item.id}: {item.bits} bits in {item.keys} bitmaps, "
                f"{item.counter_entries} counter entries"
                + (", id map entry" if item.mapped else "")
            )
