"""Person properties from the user model: ``PORPOISE["PERSON_PROPERTIES"]``.

Each entry names a property and where its value comes from: an attribute path
on the user (``"profile.plan"``, ``"is_staff"``) or the dotted path of a
callable taking the user (``"myapp.analytics.country_of"``). Values are
written when a user is saved (after the transaction commits) and, for the
users already there, by ``manage.py porpoise_sync_properties``::

    PORPOISE = {"PERSON_PROPERTIES": {"plan": "profile.plan", "staff": "is_staff"}}

A value of ``None`` (or a missing attribute) clears the property.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_save
from django.utils.module_loading import import_string

from porpoise_django import services
from porpoise_django.conf import porpoise_settings

logger = logging.getLogger("porpoise_django")
DISPATCH_UID = "porpoise_django.person_properties"


def source_of(path: str) -> Callable[[Any], object]:
    """How to read one property of a user: a callable's dotted path, else an attribute path."""
    if "." in path:
        try:
            found = import_string(path)
        except ImportError:
            found = None
        if callable(found):
            return found
    parts = path.split(".")

    def read(user: Any) -> object:
        value: Any = user
        for part in parts:
            value = getattr(value, part, None)
            if value is None:
                return None
        return value

    return read


def sources() -> dict[str, Callable[[Any], object]]:
    """``PERSON_PROPERTIES`` as readers, by property name."""
    configured = porpoise_settings.PERSON_PROPERTIES or {}
    return {name: source_of(path) for name, path in configured.items()}


def properties_of(user: Any, readers: dict[str, Callable[[Any], object]] | None = None) -> dict:
    """The person properties of ``user`` under ``PERSON_PROPERTIES``."""
    return {name: read(user) for name, read in (readers or sources()).items()}


def on_user_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    if not porpoise_settings.PERSON_PROPERTIES:
        return
    values = properties_of(instance)
    pk = instance.pk

    def write() -> None:
        try:
            services.set_properties(pk, values)
        except ValueError as exc:  # a value the engine refuses must not fail the save
            logger.error("porpoise: person properties of user %r skipped: %s", pk, exc)

    transaction.on_commit(write)


def connect() -> None:
    """Follow user saves when ``PERSON_PROPERTIES`` names any property."""
    post_save.disconnect(sender=get_user_model(), dispatch_uid=DISPATCH_UID)
    if porpoise_settings.PERSON_PROPERTIES:
        post_save.connect(on_user_saved, sender=get_user_model(), dispatch_uid=DISPATCH_UID)
