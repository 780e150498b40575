"""Exceptions raised by the engine.

Every validation error is a ``ValueError`` (so ``except ValueError`` keeps
working) whose message names what was wrong and what is allowed.
"""

from __future__ import annotations


class PorpoiseError(ValueError):
    """Base class of the engine's input errors.

    ``field`` names the argument at fault where the raiser knows it (e.g.
    ``"options"``, ``"sort"``), so that an HTTP layer can file the error
    under the right parameter.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidName(PorpoiseError):
    """An event, counter or prefix name that the key scheme cannot hold."""


class InvalidId(PorpoiseError):
    """An id outside what the configured id mode accepts."""


class InvalidGranularity(PorpoiseError):
    """A granularity that is unknown or not tracked."""


class InvalidTime(PorpoiseError):
    """A naive datetime, an unsupported type, or an inverted or oversized range."""


class InvalidExpression(PorpoiseError):
    """A bit-operation expression that cannot be evaluated (e.g. unbound to a period)."""


class InvalidValue(PorpoiseError):
    """A counter increment, metric value, option or parameter that cannot be used."""


class IdMapMismatch(PorpoiseError):
    """The id map in Redis was made with another ``id_map_shards`` than this
    process's: its ids would be read and written at the wrong indexes."""
