"""``manage.py porpoise_purge``: delete events, counters, or all data of the prefix."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from ..base import PorpoiseCommand


class Command(PorpoiseCommand):
    help = (
        "Delete events, unique events or counters, or every key of the configured prefix. "
        "Asks for confirmation unless --yes."
    )
    examples = """
--event song:played
--counter page:view --yes
--all
"""

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--event", action="append", default=[], help="event to delete (repeatable)"
        )
        parser.add_argument("--unique", action="append", default=[], help="unique event to delete")
        parser.add_argument("--counter", action="append", default=[], help="counter to delete")
        parser.add_argument("--all", action="store_true", help="delete everything under the prefix")
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args: Any, **options: Any) -> None:
        pp = self.analytics
        events, uniques, counters = options["event"], options["unique"], options["counter"]
        if not (options["all"] or events or uniques or counters):
            raise CommandError(
                "say what to delete: --event NAME, --unique NAME, --counter NAME or --all"
            )
        if options["all"]:
            what = f"ALL porpoise data under the prefix {pp.keys.prefix!r}"
        else:
            parts = [f"event {n}" for n in events] + [f"unique event {n}" for n in uniques]
            what = ", ".join(parts + [f"counter {n}" for n in counters])
        if not options["yes"]:
            try:
                answer = input(f"This deletes {what}. Type 'yes' to continue: ")
            except EOFError:
                answer = ""
            if answer.strip().lower() != "yes":
                raise CommandError("aborted: nothing deleted")
        try:
            if options["all"]:
                pp.delete_all()
            for name in events:
                pp.delete_event(name)
            for name in uniques:
                pp.delete_unique(name)
            for name in counters:
                pp.delete_counter(name)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"deleted {what}")
