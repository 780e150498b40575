"""Django application configuration."""

from django.apps import AppConfig


class PorpoiseConfig(AppConfig):
    name = "porpoise_django"
    verbose_name = "Porpoise analytics"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401  (checks register themselves)

        receivers.connect()
