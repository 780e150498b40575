"""Django application configuration: where the glue is wired together (the
permission it creates after ``migrate`` is in :mod:`porpoise_django.permissions`)."""

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

from porpoise_django.permissions import create_view_permission, view_permission

__all__ = ["PorpoiseConfig", "view_permission"]


class PorpoiseConfig(AppConfig):
    name = "porpoise_django"
    verbose_name = _("Porpoise analytics")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Checks register themselves on import; receivers connect below.
        from porpoise_django import checks, delivery  # noqa: F401
        from porpoise_django.delivery import writer
        from porpoise_django.tracking import cors, receivers

        delivery.use_writer(writer.get_writer)
        receivers.connect()
        from porpoise_django.tracking import forgetting

        forgetting.connect()
        cors.connect()
        if apps.is_installed("django.contrib.auth"):
            post_migrate.connect(create_view_permission, dispatch_uid="porpoise_view_permission")
