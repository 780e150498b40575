"""``path("api/porpoise/", include("porpoise_django.api.urls"))`` adds the whole API,
its OpenAPI schema (``schema/``) and a Swagger UI (``docs/``)."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.routers import APIRootView, DefaultRouter

from porpoise_django.api.people import ActivityView, PeopleView
from porpoise_django.api.tracking import PixelView, TrackView
from porpoise_django.api.views import (
    CohortView,
    CounterNamesView,
    CounterViewSet,
    DecisionViewSet,
    EventNamesView,
    EventViewSet,
    ExpressionView,
    FunnelView,
    LifecycleView,
    MetricNamesView,
    MetricViewSet,
    PorpoiseAPIMixin,
    StickinessView,
)
from porpoise_django.conf import porpoise_settings

app_name = "porpoise_api"


def _docs_permissions() -> list[BasePermission]:
    """The API's own permissions (staff by default), unless API_DOCS_PUBLIC opens the
    schema and Swagger UI: a description of a staff-only API is staff-only too."""
    if porpoise_settings.API_DOCS_PUBLIC:
        return [AllowAny()]
    return [cls() for cls in porpoise_settings.API_PERMISSION_CLASSES]


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


#: Swagger UI's files in drf-spectacular-sidecar's static folder.
SWAGGER_UI_FILES = {
    "swagger_ui_css": "swagger-ui.css",
    "swagger_ui_bundle": "swagger-ui-bundle.js",
    "swagger_ui_standalone": "swagger-ui-standalone-preset.js",
    "favicon_href": "favicon-32x32.png",
}


class DocsView(SpectacularSwaggerView):
    """Swagger UI over the schema, with the schema's permissions; its files come
    from the package (drf-spectacular-sidecar), not a CDN, so it works offline."""

    def get_permissions(self) -> list[BasePermission]:
        return _docs_permissions()

    def options(  # type: ignore[override]
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        """The methods, without a body: the page is HTML, and the HTML renderer has
        no template for DRF's metadata (a 500 before)."""
        response = HttpResponse()
        response["Allow"] = "GET, HEAD, OPTIONS"
        return response

    @extend_schema(exclude=True)
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        for key, name in SWAGGER_UI_FILES.items():
            response.data[key] = static(f"drf_spectacular_sidecar/swagger-ui-dist/{name}")
        return response


class RootView(PorpoiseAPIMixin, APIRootView):
    """The list of routes, behind the API's own permissions (it describes them)."""


# The actions on one name of a kind: events/<name>/series/, counters/<name>/top/...
router = DefaultRouter()
router.APIRootView = RootView
router.register("events", EventViewSet, basename="event")
router.register("counters", CounterViewSet, basename="counter")
router.register("metrics", MetricViewSet, basename="metric")
router.register("decisions", DecisionViewSet, basename="decision")

urlpatterns = [
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", DocsView.as_view(url_name="porpoise_api:schema"), name="docs"),
    path("events/", EventNamesView.as_view(), name="event-list"),
    path("counters/", CounterNamesView.as_view(), name="counter-list"),
    path("metrics/", MetricNamesView.as_view(), name="metric-list"),
    path("expressions/", ExpressionView.as_view(), name="expression-list"),
    path("cohorts/", CohortView.as_view(), name="cohort-list"),
    path("funnels/", FunnelView.as_view(), name="funnel-list"),
    path("lifecycle/", LifecycleView.as_view(), name="lifecycle-list"),
    path("stickiness/", StickinessView.as_view(), name="stickiness-list"),
    path("people/", PeopleView.as_view(), name="people-list"),
    path("people/<str:id>/activity/", ActivityView.as_view(), name="people-activity"),
    path("track/", TrackView.as_view(), name="track-list"),
    # A pixel's address ends in .gif, not in a slash.
    path("track/pixel.gif", PixelView.as_view(), name="track-pixel"),
    path("", include(router.urls)),
]
