"""The test URLs plus a host project's own DRF route named ``track-list`` (issue 25,
case 3: CORS is granted to the app's tracking views only, never to this one)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from tests.testapp import views
from tests.urls import urlpatterns as test_urlpatterns

host_router = SimpleRouter()
host_router.register("tracks", views.HostTracksViewSet, basename="track")

urlpatterns = [path("host-api/", include(host_router.urls)), *test_urlpatterns]
