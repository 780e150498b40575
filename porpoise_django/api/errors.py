"""The API's one way of turning an engine refusal into a 400 (its message in the
active language where :mod:`porpoise_django.i18n` knows it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from rest_framework.exceptions import ValidationError

from porpoise_django.i18n import engine_message

T = TypeVar("T")


def engine(field: str, call: Callable[[], T]) -> T:
    """Run an engine call; its ``ValueError`` becomes a 400 naming ``field``, or the
    argument the engine names (``PorpoiseError.field``) when it knows better."""
    try:
        return call()
    except ValueError as exc:
        named = getattr(exc, "field", None) or field
        raise ValidationError({named: [engine_message(exc)]}) from None
