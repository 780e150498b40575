"""Built-in receivers: login, logout, signup, and declarative model events.

Connected in ``PorpoiseConfig.ready``. Each mark is written when the current
database transaction commits (at once outside a transaction), so a rolled
back signup is never counted.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.core.signals import setting_changed
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from porpoise_django import delivery
from porpoise_django.conf import porpoise_settings
from porpoise_django.signals import event_marked
from porpoise_django.tracking import properties

logger = logging.getLogger("porpoise_django")
DISPATCH_PREFIX = "porpoise_django"


def mark_on_commit(event: str | None, user_id: Any, using: str | None = None) -> None:
    """Validate now, write when the transaction of database ``using`` commits.

    Bad ids are logged, never raised into the caller. ``event_marked`` is sent
    after the commit too: on a rollback nothing was marked, so nothing is said.
    """
    if not event or user_id is None:
        return
    try:
        write = delivery.mark(event, user_id)
    except ValueError as exc:
        logger.error("porpoise: %s not marked: %s", event, exc)
        return

    def committed() -> None:
        delivery.dispatch([write])
        event_marked.send(
            sender=mark_on_commit, event=write.row[0], id=write.row[1], timestamp=write.row[2]
        )

    transaction.on_commit(committed, using=using)


def on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    mark_on_commit(porpoise_settings.LOGIN_EVENT, getattr(user, "pk", None))


def on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    mark_on_commit(porpoise_settings.LOGOUT_EVENT, getattr(user, "pk", None))


def on_user_saved(
    sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if created and not raw:  # raw: loaddata, not a signup
        mark_on_commit(porpoise_settings.SIGNUP_EVENT, instance.pk, kwargs.get("using"))


def model_user_id(instance: models.Model, path: str | None) -> Any:
    """The id to mark for a model event: the instance's ``path`` field, or the pk."""
    if not path:
        return instance.pk
    try:
        field = instance._meta.get_field(path)
    except Exception:
        field = None
    if field is not None and (field.many_to_one or field.one_to_one):
        return getattr(instance, f"{path}_id")  # no query for the related row
    value = getattr(instance, path)
    return getattr(value, "pk", value)


def on_model_saved(
    sender: Any,
    instance: Any,
    created: bool,
    raw: bool = False,
    *,
    spec: dict[str, Any],
    **kwargs: Any,
) -> None:
    if raw:
        return
    event = spec.get("created" if created else "updated")
    mark_on_commit(event, model_user_id(instance, spec.get("user")), kwargs.get("using"))


def on_model_deleted(sender: Any, instance: Any, *, spec: dict[str, Any], **kwargs: Any) -> None:
    mark_on_commit(
        spec.get("deleted"), model_user_id(instance, spec.get("user")), kwargs.get("using")
    )


def connect() -> None:
    """(Re)connect every receiver according to the current settings."""
    disconnect()
    user_logged_in.connect(on_login, dispatch_uid=f"{DISPATCH_PREFIX}.login")
    user_logged_out.connect(on_logout, dispatch_uid=f"{DISPATCH_PREFIX}.logout")
    post_save.connect(
        on_user_saved, sender=get_user_model(), dispatch_uid=f"{DISPATCH_PREFIX}.signup"
    )
    for label, spec in (porpoise_settings.MODEL_EVENTS or {}).items():
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError):
            continue  # reported by the porpoise_django.E004 check
        if not isinstance(spec, dict):
            continue
        uid = f"{DISPATCH_PREFIX}.model.{label}"
        post_save.connect(
            partial(on_model_saved, spec=spec), sender=model, weak=False, dispatch_uid=uid
        )
        if spec.get("deleted"):
            post_delete.connect(
                partial(on_model_deleted, spec=spec), sender=model, weak=False, dispatch_uid=uid
            )
        _connected_models.append((label, model))
    properties.connect()


_connected_models: list[tuple[str, Any]] = []


def disconnect() -> None:
    user_logged_in.disconnect(dispatch_uid=f"{DISPATCH_PREFIX}.login")
    user_logged_out.disconnect(dispatch_uid=f"{DISPATCH_PREFIX}.logout")
    post_save.disconnect(sender=get_user_model(), dispatch_uid=f"{DISPATCH_PREFIX}.signup")
    for label, model in _connected_models:
        uid = f"{DISPATCH_PREFIX}.model.{label}"
        post_save.disconnect(sender=model, dispatch_uid=uid)
        post_delete.disconnect(sender=model, dispatch_uid=uid)
    _connected_models.clear()


@receiver(setting_changed)
def reconnect_on_settings_change(*, setting: str, **kwargs: Any) -> None:
    """``MODEL_EVENTS`` may have changed: connect the receivers anew. (The
    settings object reloaded first: its receiver was connected before this one.)"""
    if setting == "PORPOISE" and apps.ready:
        connect()
