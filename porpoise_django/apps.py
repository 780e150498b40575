"""Django application configuration: where the glue is wired together."""

from django.apps import AppConfig


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
        cors.connect()
