"""Django application configuration: where the glue is wired together.

Also the one permission the app defines (it has no models): ``VIEW_PERMISSION``
(default ``porpoise_django.view_analytics``, "Can view porpoise analytics"),
which the dashboards and the read API require. It is created after
``migrate``, on a content type of its own, for an admin to grant on purpose.
"""

from typing import Any

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate

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


class PorpoiseConfig(AppConfig):
    name = "porpoise_django"
    verbose_name = "Porpoise analytics"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Checks register themselves on import; receivers connect below.
        from porpoise_django import checks, delivery  # noqa: F401
        from porpoise_django.delivery import writer
        from porpoise_django.tracking import cors, receivers

        delivery.use_writer(writer.get_writer)
        receivers.connect()
        from porpoise_django import forgetting

        forgetting.connect()
        cors.connect()
        if apps.is_installed("django.contrib.auth"):
            post_migrate.connect(create_view_permission, dispatch_uid="porpoise_view_permission")
