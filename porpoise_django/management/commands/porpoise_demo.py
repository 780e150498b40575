"""``manage.py porpoise_demo``: fill the store with realistic demo data."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from porpoise_django.dev.demo import generate
from porpoise_django.management.base import PorpoiseCommand


class Command(PorpoiseCommand):
    help = (
        "Generate demo events (signup, active, login, song:played, purchase, premium) and "
        "counters (page:view, song:played, revenue) with realistic retention curves, ending today."
    )
    examples = """
                         # 5,000 users over 60 days
--users 50000 --days 90
--purge --yes            # start from an empty prefix
"""

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--users", type=int, default=5000)
        parser.add_argument("--days", type=int, default=60)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--purge", action="store_true", help="delete the prefix's data first")
        parser.add_argument("--yes", action="store_true", help="with --purge: do not ask")

    def handle(self, *args: Any, **options: Any) -> None:
        pp = self.analytics
        if options["purge"]:
            if not options["yes"]:
                answer = input(
                    f"Delete all porpoise data under {pp.keys.prefix!r} first? Type 'yes': "
                )
                if answer.strip().lower() != "yes":
                    raise CommandError("aborted: nothing deleted or generated")
            pp.delete_all()
        try:
            result = generate(
                pp, users=options["users"], days=options["days"], seed=options["seed"]
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        written = ", ".join(f"{k} {v:,}" for k, v in result["written"].items())
        self.stdout.write(
            f"demo data for {result['users']:,} users over {result['days']} days: {written}"
        )
