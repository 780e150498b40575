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


#: The property value that stands for every value beyond the bound.
OTHER_VALUE = "$other"


def validate_event_name(name: object) -> str:
    """An event name, or the engine's ``event=property=value`` name of an event
    restricted to an event property's value (``=`` is not allowed in names, so
    the two cannot collide).

    >>> validate_event_name("purchase=source=ads")
    'purchase=source=ads'
    """
    if isinstance(name, str) and name.count("=") == 2:
        parts = zip(name.split("="), ("event name", "property name", "property value"), strict=True)
        for part, what in parts:
            if not (what == "property value" and part == OTHER_VALUE):
                validate_name(part, what=what)
        return name
    return validate_name(name)


def validate_prefix(prefix: object) -> str:
    """Return a key prefix if valid (no hash-tag braces), else raise :class:`InvalidName`."""
    if not isinstance(prefix, str) or not PREFIX_PATTERN.fullmatch(prefix):
        raise InvalidName(f"invalid key prefix {prefix!r}: use 1 to 64 letters, digits and _ . : -")
    return prefix
