"""Forgetting users in the analytics (a deletion request, GDPR art. 17).

- :func:`forget` erases ids with the engine's ``Analytics.forget`` (every
  bitmap, unique event, segment, person property and per-id counter; the id
  map entry in map mode) and this process's cached id pairs.
- With ``PORPOISE["FORGET_ON_USER_DELETE"]`` (default True), deleting a user
  (the ``post_delete`` of the user model and of its proxy models) forgets
  ``user.pk``, after the transaction commits (checks E041, W041).
- ``manage.py porpoise_forget ID...`` and the user admin's action "Forget in
  analytics" call :func:`forget` too.

What is not erased (the operations guide says it too): counter totals,
metrics and series (they hold no id), and writes still in a spool, which are
replayed when Redis answers again: forget again after an outage ends.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete

from porpoise_django.conf import porpoise_settings
from porpoise_django.engine import Forgotten
from porpoise_django.services import get_analytics

logger = logging.getLogger("porpoise_django")
DISPATCH_UID = "porpoise_forget_on_user_delete"


def forget(ids: Iterable[Any]) -> list[Forgotten]:
    """Forget each id everywhere; returns what was erased, per id."""
    pp = get_analytics()
    return [pp.forget(external) for external in ids]


def user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    """``post_delete`` of the user model: forget the user once the deletion commits
    (a rolled-back deletion forgets nobody). A Redis error is logged, never raised
    into the deletion: ``porpoise_forget`` can be run again later."""
    if not porpoise_settings.FORGET_ON_USER_DELETE or instance.pk is None:
        return
    pk = instance.pk

    def run() -> None:
        try:
            forget([pk])
        except Exception as exc:
            logger.error(
                "porpoise: could not forget deleted user %r (%s); run "
                "'manage.py porpoise_forget %s' once Redis answers",
                pk,
                exc,
                pk,
            )

    transaction.on_commit(run)


def user_models() -> list[Any]:
    """The user model and its proxies: a deletion through a proxy model sends
    ``post_delete`` with the proxy as sender, not the user model (none without auth)."""
    from django.apps import apps

    if not apps.is_installed("django.contrib.auth"):
        return []
    from django.contrib.auth import get_user_model

    model = get_user_model()
    proxies = [m for m in apps.get_models() if m._meta.proxy and m._meta.concrete_model is model]
    return [model, *proxies]


def connect() -> None:
    """Connect :func:`user_deleted` to the user model and its proxies (when auth is
    installed); the setting is read at each deletion, so ``override_settings`` works."""
    for model in user_models():
        post_delete.connect(user_deleted, sender=model, dispatch_uid=DISPATCH_UID)


def connected(model: Any) -> bool:
    """Whether :func:`user_deleted` receives ``model``'s ``post_delete``."""
    # Each receiver is kept under (dispatch_uid, id(sender)), first in its entry.
    return any(entry[0] == (DISPATCH_UID, id(model)) for entry in post_delete.receivers)
