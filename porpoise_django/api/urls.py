"""``path("api/porpoise/", include("porpoise_django.api.urls"))`` adds the whole API,
its OpenAPI schema (``schema/``) and a Swagger UI (``docs/``)."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.utils.module_loading import import_string
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.routers import DefaultRouter

from ..conf import porpoise_settings
from .tracking import TrackViewSet
from .views import (
    CohortViewSet,
    CounterViewSet,
    DecisionViewSet,
    EventViewSet,
    ExpressionViewSet,
    FunnelViewSet,
    LifecycleViewSet,
    MetricViewSet,
    StickinessViewSet,
)

app_name = "porpoise_api"


def _docs_permissions() -> list[BasePermission]:
    """The API's own permissions (staff by default), unless API_DOCS_PUBLIC opens the
    schema and Swagger UI: a description of a staff-only API is staff-only too."""
    if porpoise_settings.API_DOCS_PUBLIC:
        return [AllowAny()]
    return [import_string(path)() for path in porpoise_settings.API_PERMISSION_CLASSES]


class SchemaView(SpectacularAPIView):
    """The API's own OpenAPI 3 schema; its server is wherever the API is mounted."""

    urlconf = "porpoise_django.api.urls"

    def get_permissions(self) -> list[BasePermission]:
        return _docs_permissions()

    @extend_schema(exclude=True)
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        mount = request.path.rsplit("schema/", 1)[0].rstrip("/")
        self.custom_settings = {
            "TITLE": "porpoise-django API",
            "VERSION": "1",
            "SERVERS": [{"url": mount or "/"}],
        }
        return super().get(request, *args, **kwargs)


class DocsView(SpectacularSwaggerView):
    """Swagger UI over the schema, with the schema's permissions."""

    def get_permissions(self) -> list[BasePermission]:
        return _docs_permissions()


router = DefaultRouter()
router.register("events", EventViewSet, basename="event")
router.register("expressions", ExpressionViewSet, basename="expression")
router.register("counters", CounterViewSet, basename="counter")
router.register("metrics", MetricViewSet, basename="metric")
router.register("cohorts", CohortViewSet, basename="cohort")
router.register("funnels", FunnelViewSet, basename="funnel")
router.register("lifecycle", LifecycleViewSet, basename="lifecycle")
router.register("stickiness", StickinessViewSet, basename="stickiness")
router.register("decisions", DecisionViewSet, basename="decision")
router.register("track", TrackViewSet, basename="track")

urlpatterns = [
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", DocsView.as_view(url_name="porpoise_api:schema"), name="docs"),
    # A pixel's address ends in .gif, not in a slash.
    path("track/pixel.gif", TrackViewSet.as_view({"get": "pixel"}), name="track-pixel"),
    path("", include(router.urls)),
]
