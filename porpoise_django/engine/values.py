"""Small checks and conversions shared by every engine module.

>>> plain(True, int), plain(3, int)
(False, True)
>>> int_in(8, 1, 8), int_in(9, 1, 8)
(True, False)
>>> text(b"active")
'active'
"""

from __future__ import annotations

from typing import Any, TypeGuard


def plain(value: object, *types: type) -> TypeGuard[Any]:
    """Whether ``value`` is one of ``types``, never counting a bool as a number.

    ``True`` is an ``int`` to Python; as an id, a count or a limit it is
    always a caller's mistake.
    """
    return not isinstance(value, bool) and isinstance(value, types)


def int_in(value: object, low: int, high: int | None = None) -> TypeGuard[int]:
    """Whether ``value`` is an int (not a bool) from ``low`` to ``high`` inclusive."""
    return plain(value, int) and low <= value and (high is None or value <= high)


def text(value: Any) -> str:
    """A Redis reply as text: bytes decoded as UTF-8, anything else through ``str``."""
    return value.decode() if isinstance(value, bytes) else str(value)
