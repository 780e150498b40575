"""The one permission the app defines (it has no models): ``VIEW_PERMISSION``
(default ``porpoise_django.view_analytics``, "Can view porpoise analytics"),
which the dashboards, the read API and decision recording require. It is
created after ``migrate``, on a content type of its own, for an admin to
grant on purpose.
"""

from typing import Any

from django.apps import apps

#: The permission ``VIEW_PERMISSION`` names by default.
VIEW_CODENAME = "view_analytics"
VIEW_NAME = "Can view porpoise analytics"


def view_permission() -> Any:
    """The ``porpoise_django.view_analytics`` permission row (made if missing)."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    content_type, _ = ContentType.objects.get_or_create(
        app_label="porpoise_django", model="analytics"
    )
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type, codename=VIEW_CODENAME, defaults={"name": VIEW_NAME}
    )
    return permission


def create_view_permission(sender: Any = None, app_config: Any = None, **kwargs: Any) -> None:
    """``post_migrate`` receiver: make the permission once auth's tables exist."""
    if getattr(app_config, "label", None) != "auth":
        return
    if apps.is_installed("django.contrib.contenttypes"):
        view_permission()


def may_view(user: Any) -> bool:
    """Whether ``user`` has ``VIEW_PERMISSION`` (superusers have every permission)."""
    from porpoise_django.conf import porpoise_settings

    if user is None or not user.is_authenticated:
        return False
    permission = porpoise_settings.VIEW_PERMISSION
    return not permission or bool(user.has_perm(permission))
