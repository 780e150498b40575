"""``request.porpoise``: marks and counts of one request, written together at its end."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from porpoise_django import delivery
from porpoise_django.delivery.pending import PendingWrite
from porpoise_django.signals import event_marked

logger = logging.getLogger("porpoise_django")


class Collector:
    """Collects the writes of one request; :meth:`flush` sends them in one round trip.

    In a view::

        request.porpoise.mark("song:played")              # the logged-in user
        request.porpoise.count("page:view", id=request.path)
    """

    def __init__(self, user_id: Any = None, *, resolve: Callable[[], Any] | None = None) -> None:
        self._user_id = user_id
        # Looked up on first use only: a request that marks nothing by default
        # never reads its session for the id.
        self._resolve = resolve
        self.writes: list[PendingWrite] = []

    @property
    def user_id(self) -> Any:
        """Default id of marks: the authenticated user's pk (the middleware sets it)."""
        if self._resolve is not None:
            self._user_id, self._resolve = self._resolve(), None
        return self._user_id

    @user_id.setter
    def user_id(self, value: Any) -> None:
        self._user_id, self._resolve = value, None

    def __len__(self) -> int:
        return len(self.writes)

    def mark(
        self,
        event: str,
        id: Any = None,
        when: Any = None,
        *,
        granularities: Sequence[str] | None = None,
        track_unique: bool = False,
        properties: Mapping[str, object] | None = None,
    ) -> bool:
        """Mark ``event`` for ``id`` (default: the logged-in user) at the end of the request,
        with the event ``properties`` it carried (``{"source": "ads"}``).

        Returns False (and marks nothing) when there is no id: an anonymous
        request with no explicit id. Bad input raises ``ValueError`` at once.
        """
        who = self.user_id if id is None else id
        if who is None:
            return False
        write = delivery.mark(
            event,
            who,
            when,
            granularities=granularities,
            track_unique=track_unique,
            properties=properties,
        )
        self.writes.append(write)
        event_marked.send(
            sender=Collector, event=write.row[0], id=write.row[1], timestamp=write.row[2]
        )
        return True

    def count(
        self,
        counter: str,
        id: Any = None,
        by: float = 1,
        when: Any = None,
        *,
        granularities: Sequence[str] | None = None,
    ) -> None:
        """Add ``by`` to ``counter`` (per ``id`` if given) at the end of the request."""
        self.writes.append(delivery.count(counter, id, by, when, granularities=granularities))

    def flush(self) -> None:
        """Hand everything collected to the writer: one round trip, never an exception."""
        writes, self.writes = self.writes, []
        delivery.dispatch(writes)
