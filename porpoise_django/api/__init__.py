"""The REST API: ``path("api/porpoise/", include("porpoise_django.api.urls"))``."""
