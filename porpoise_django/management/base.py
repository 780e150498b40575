"""Shared bits of the porpoise management commands."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from porpoise_django.engine import Analytics, PorpoiseError
from porpoise_django.services import get_analytics


class PorpoiseCommand(BaseCommand):
    """A command whose ``--help`` ends with usage examples (``examples``)."""

    examples: str = ""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        if self.examples:
            parser.epilog = "examples:\n" + "\n".join(
                f"  {prog_name} {subcommand} {line}".rstrip()
                for line in self.examples.strip().splitlines()
            )
        return parser

    @property
    def analytics(self) -> Analytics:
        return get_analytics()


def parse_date(value: str) -> dt.date:
    """argparse type for ``YYYY-MM-DD``."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def engine_errors_as_command_errors(exc: PorpoiseError) -> CommandError:
    return CommandError(str(exc))
