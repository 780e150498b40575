"""``manage.py porpoise_replay``: send the writes that processes left spooled,
and deal with the dead letters (rows the engine refused)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from porpoise_django import delivery
from porpoise_django.delivery import building, deadletters, folder, outage
from porpoise_django.management.base import PorpoiseCommand


class Command(PorpoiseCommand):
    help = (
        "Replay the writes spooled by processes that are gone (killed, or stopped while "
        "Redis was down), oldest first, exactly once for counts; spools of live processes "
        "are left to them. Rows the engine refuses are kept as dead letters. Exits with "
        "status 1 if Redis refused the replay (the writes stay spooled)."
    )
    examples = """
                                     # the spools of this project's folder
--dead-letters                       # send the dead letters again (after a fix)
--dead-letters --expired             # ... and counts kept too long (may count twice)
--export dead.jsonl                  # the dead letters as JSON lines ('-': stdout)
--export dead.jsonl --discard        # ... then delete them
"""

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--dead-letters",
            action="store_true",
            help="send the dead letters of every spool of this project again",
        )
        parser.add_argument(
            "--expired",
            action="store_true",
            help="with --dead-letters: also counts that waited longer than IDEMPOTENCY_TTL "
            "(their first try may have been applied: they may count twice)",
        )
        parser.add_argument(
            "--export", metavar="FILE", help="write the dead letters as JSON lines ('-': stdout)"
        )
        parser.add_argument(
            "--discard", action="store_true", help="delete the dead letters (after --export)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        where, target = delivery.spool_dir(), folder.target()
        if options["export"] or options["discard"]:
            self._export_or_discard(where, target, options["export"], options["discard"])
            return
        buffer = delivery.get_buffer()
        before = buffer.stats.replayed
        if not delivery.flush_buffer(orphans=True):
            raise CommandError(
                f"the replay failed ({_last_error(buffer)}); "
                f"the writes stay spooled in {buffer.folder}",
                returncode=1,
            )
        self.stdout.write(f"replayed {buffer.stats.replayed - before} write(s) from {where}")
        if options["dead_letters"]:
            self._resend(where, target, options["expired"])
        kept = deadletters.summary(where, target)
        if kept["count"]:
            self.stdout.write(
                f"{kept['count']} dead letter(s) kept ({_reasons(kept)}): "
                "see porpoise_stats; send them again with --dead-letters"
            )

    def _resend(self, where: str, target: str, expired: bool) -> None:
        try:
            outcome = deadletters.resend(where, target, building.submit_replayed, expired=expired)
        except Exception as exc:
            if not outage.is_outage(exc):
                raise
            raise CommandError(
                f"Redis is unavailable ({type(exc).__name__}: {exc}); the dead letters stay",
                returncode=1,
            ) from exc
        self.stdout.write(
            f"dead letters: {outcome['sent']} sent, {outcome['refused']} refused again, "
            f"{outcome['expired']} expired count(s) left (--expired sends them)"
        )

    def _export_or_discard(self, where: str, target: str, path: str | None, discard: bool) -> None:
        if path:
            if path == "-":
                written = deadletters.export(where, target, self.stdout)
            else:
                with open(path, "w", encoding="utf-8") as out:
                    written = deadletters.export(where, target, out)
            self.stderr.write(f"exported {written} dead letter(s) to {path}")
        if discard:
            gone = deadletters.discard(where, target)
            self.stderr.write(f"discarded {gone} dead letter(s) from {where}")


def _reasons(summary: dict[str, Any]) -> str:
    return ", ".join(f"{reason}: {n}" for reason, n in sorted(summary["reasons"].items()))


def _last_error(buffer: Any) -> str:
    return str(buffer.stats.spool_error or buffer.stats.last_error or "see the log")
