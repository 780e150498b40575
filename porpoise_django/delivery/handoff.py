"""The hand-over to the background writer.

The writer (:mod:`.writer`) depends on :mod:`.recording`, so it is injected
here by ``PorpoiseConfig.ready`` rather than imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from porpoise_django.delivery.pending import PendingWrite


class Writer(Protocol):
    """What dispatching needs of the background writer (see :mod:`.writer`)."""

    def submit(self, writes: Iterable[PendingWrite]) -> None: ...

    def flush(self, timeout: float = 5.0) -> bool: ...


_background: Callable[[], Writer] | None = None


def use_writer(get_writer: Callable[[], Writer]) -> None:
    """Hand background writes to the writer ``get_writer()`` returns."""
    global _background
    _background = get_writer


def background() -> Writer | None:
    """The process's background writer, or None before the app is ready."""
    return None if _background is None else _background()
