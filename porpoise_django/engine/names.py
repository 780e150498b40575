"""Validation of the names that end up inside Redis keys."""

from __future__ import annotations

import re

from porpoise_django.engine.errors import InvalidName

#: Characters allowed in event and counter names. ``{`` and ``}`` are excluded
#: because they would change the Redis Cluster hash tag; white space and control
#: characters because they make keys unreadable in tools.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.:/@+\-]+")
NAME_MAX_LENGTH = 128
NAME_RULE = f"1 to {NAME_MAX_LENGTH} characters among letters, digits and _ . : / @ + -"
PREFIX_PATTERN = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")


def validate_name(name: object, *, what: str = "event name") -> str:
    """Return ``name`` if it can be used in a key, else raise :class:`InvalidName`.

    >>> validate_name("song:played")
    'song:played'
    """
    if not isinstance(name, str):
        raise InvalidName(f"{what} must be a string ({NAME_RULE}), got {type(name).__name__}")
    if not name or len(name) > NAME_MAX_LENGTH or not NAME_PATTERN.fullmatch(name):
        raise InvalidName(f"invalid {what} {name[:200]!r}: use {NAME_RULE}")
    return name


def validate_prefix(prefix: object) -> str:
    """Return a key prefix if valid (no hash-tag braces), else raise :class:`InvalidName`."""
    if not isinstance(prefix, str) or not PREFIX_PATTERN.fullmatch(prefix):
        raise InvalidName(f"invalid key prefix {prefix!r}: use 1 to 64 letters, digits and _ . : -")
    return prefix
