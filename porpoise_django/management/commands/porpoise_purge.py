"""``manage.py porpoise_purge``: delete events, counters, or all data of the prefix."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from porpoise_django.management.base import PorpoiseCommand


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
        missing = self._missing(events, uniques, counters)
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
        if missing:
            self.stderr.write(f"nothing stored under {', '.join(missing)}")
        found = len(events) + len(uniques) + len(counters) - len(missing)
        if options["all"] or found:
            self.stdout.write(f"deleted {what}" if not missing else f"deleted the others of {what}")
        if missing and not found and not options["all"]:
            raise CommandError(f"nothing to delete: no {', '.join(missing)}")

    def _missing(self, events: list[str], uniques: list[str], counters: list[str]) -> list[str]:
        """What was named but is not in the registries (purging it would say nothing)."""
        pp = self.analytics
        known = (set(pp.event_names()), set(pp.unique_names()), set(pp.counter_names()))
        return [
            f"{kind} {name}"
            for kind, names, present in zip(
                ("event", "unique event", "counter"),
                (events, uniques, counters),
                known,
                strict=True,
            )
            for name in names
            if name not in present
        ]
