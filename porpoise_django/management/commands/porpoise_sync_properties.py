"""``manage.py porpoise_sync_properties``: write PERSON_PROPERTIES for existing users."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser
from tqdm import tqdm

from porpoise_django.engine import PorpoiseError
from porpoise_django.management.base import PorpoiseCommand
from porpoise_django.tracking.properties import properties_of, sources


class Command(PorpoiseCommand):
    help = (
        "Write the person properties PORPOISE['PERSON_PROPERTIES'] names for every "
        "existing user, in batches (saves keep them current afterwards)."
    )
    examples = """
--batch-size 5000
--quiet
"""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=2000, help="users per batch")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        readers = sources()
        if not readers:
            raise CommandError("PORPOISE['PERSON_PROPERTIES'] names no property")
        size = options["batch_size"]
        if size < 1:
            raise CommandError("--batch-size must be at least 1")
        users = get_user_model().objects.order_by("pk")
        total = users.count()
        written = 0
        with tqdm(total=total, disable=options["quiet"], unit="users") as bar:
            batch: list[Any] = []
            for user in users.iterator(chunk_size=size):
                batch.append(user)
                if len(batch) == size:
                    written += self.write(batch, readers)
                    bar.update(len(batch))
                    batch = []
            if batch:
                written += self.write(batch, readers)
                bar.update(len(batch))
        self.stdout.write(f"person properties of {written} users written ({', '.join(readers)})")

    def write(self, users: list[Any], readers: dict[str, Any]) -> int:
        """One batch: per property, the ids with a value in one import; the ids
        whose value is None cleared one by one."""
        pp = self.analytics
        rows = [(user.pk, properties_of(user, readers)) for user in users]
        try:
            for name in readers:
                known = [(pk, values[name]) for pk, values in rows if values[name] is not None]
                if known:
                    pp.import_properties(name, [pk for pk, _ in known], [v for _, v in known])
                for pk, values in rows:
                    if values[name] is None:
                        pp.set_properties(pk, {name: None})
        except PorpoiseError as exc:
            raise CommandError(str(exc)) from exc
        return len(rows)
