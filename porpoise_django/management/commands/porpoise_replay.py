"""``manage.py porpoise_replay``: send the writes that processes left spooled."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from porpoise_django import delivery
from porpoise_django.management.base import PorpoiseCommand


class Command(PorpoiseCommand):
    help = (
        "Replay the writes spooled by processes that are gone (killed, or stopped while "
        "Redis was down), oldest first, exactly once for counts; spools of live processes "
        "are left to them. Exits with status 1 if Redis refused them (they stay spooled)."
    )
    examples = """
                 # the spool folder of PORPOISE["SPOOL_DIR"]
"""

    def handle(self, *args: Any, **options: Any) -> None:
        buffer = delivery.get_buffer()
        before = buffer.stats.replayed
        if not delivery.flush_buffer(orphans=True):
            raise CommandError(
                f"Redis refused the replay ({buffer.stats.last_error or 'see the log'}); "
                f"the writes stay spooled in {buffer.folder}",
                returncode=1,
            )
        replayed = buffer.stats.replayed - before
        self.stdout.write(f"replayed {replayed} write(s) from {buffer.folder}")
