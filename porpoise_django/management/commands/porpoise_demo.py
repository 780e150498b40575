"""``manage.py porpoise_demo``: fill the store with realistic demo data.

Demo users have ids far from any Django user's (see
:mod:`porpoise_django.dev.demo`); and a prefix that already holds data is
refused unless asked for: demo figures must never be read as a live
project's.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from porpoise_django.conf import porpoise_settings
from porpoise_django.dev.demo import generate
from porpoise_django.engine import Analytics
from porpoise_django.management.base import PorpoiseCommand
from porpoise_django.services import engine_options, get_client


def held(pp: Analytics) -> list[str]:
    """The names of what the prefix already holds (events, counters, metrics)."""
    return [*pp.event_names(), *pp.unique_names(), *pp.counter_names(), *pp.metric_names()]


class Command(PorpoiseCommand):
    help = (
        "Generate demo events (signup, active, login, song:played, purchase, premium) and "
        "counters (page:view, song:played, revenue) with realistic retention curves, ending "
        "today. Demo users have ids from 2,147,483,648 (no Django user has those); a prefix "
        "that already holds data is refused without --purge or --into-live."
    )
    examples = """
                         # 5,000 users over 60 days, into an empty prefix
--prefix demo            # into the prefix 'demo' (KEY_PREFIX = 'demo' to look at it)
--users 50000 --days 90
--purge --yes            # empty the prefix first
--into-live              # add to a prefix that already holds data
"""

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--users", type=int, default=5000)
        parser.add_argument("--days", type=int, default=60)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--prefix", help="write under this key prefix instead of PORPOISE['KEY_PREFIX']"
        )
        parser.add_argument("--purge", action="store_true", help="delete the prefix's data first")
        parser.add_argument("--yes", action="store_true", help="with --purge: do not ask")
        parser.add_argument(
            "--into-live",
            action="store_true",
            help="add demo data to a prefix that already holds data (it will show beside it)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        prefix = options["prefix"]
        if prefix and prefix != porpoise_settings.KEY_PREFIX:
            pp = Analytics(get_client(), **{**engine_options(), "prefix": prefix})
        else:
            pp = self.analytics
        prefix = pp.keys.prefix
        if options["purge"]:
            if not options["yes"]:
                answer = input(f"Delete all porpoise data under {prefix!r} first? Type 'yes': ")
                if answer.strip().lower() != "yes":
                    raise CommandError("aborted: nothing deleted or generated")
            pp.delete_all()
        names = held(pp)
        if names and not options["into_live"]:
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            raise CommandError(
                f"the prefix {prefix!r} already holds data ({len(names)} names: {shown}); "
                "demo figures would be read beside them. Write the demo elsewhere "
                "(--prefix demo), empty this prefix first (--purge --yes), or add it anyway "
                "(--into-live). Nothing was written."
            )
        try:
            result = generate(
                pp, users=options["users"], days=options["days"], seed=options["seed"]
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        written = ", ".join(f"{k} {v:,}" for k, v in result["written"].items())
        first, last = result["ids"]
        ids = (
            f"{first:,} to {last:,} (never a Django user's)"
            if isinstance(first, int)
            else (f"{first} to {last}")
        )
        self.stdout.write(
            f"demo data for {result['users']:,} users over {result['days']} days under "
            f"{prefix!r}: {written}\n  demo user ids: {ids}"
        )
        if prefix == porpoise_settings.KEY_PREFIX:
            self.stderr.write(
                f"note: written under the project's own prefix {prefix!r}, where its real "
                "marks go too; `manage.py porpoise_purge` removes data"
            )
