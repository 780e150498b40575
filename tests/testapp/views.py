"""Views the Django integration tests call."""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from rest_framework import viewsets
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from porpoise_django.decorators import count, track


def plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def collect(request: HttpRequest) -> HttpResponse:
    request.porpoise.mark("song:played")  # type: ignore[attr-defined]
    request.porpoise.mark("song:played", id=999)  # type: ignore[attr-defined]
    request.porpoise.count("page:view", id=request.path)  # type: ignore[attr-defined]
    return HttpResponse("ok")


@track("song:played")
def played(request: HttpRequest, song_id: int) -> HttpResponse:
    return HttpResponse(f"song {song_id}")


@track("song:liked", id=lambda request, song_id: song_id)
def liked(request: HttpRequest, song_id: int) -> HttpResponse:
    return HttpResponse("liked")


@track("song:liked", id=lambda request: "not-an-int")
def bad_id(request: HttpRequest) -> HttpResponse:
    return HttpResponse("still fine")


@track("failed")
def failing(request: HttpRequest) -> HttpResponse:
    return HttpResponse("no", status=404)


@count("page:view")
def counted(request: HttpRequest) -> HttpResponse:
    return HttpResponse("counted")


@track("async:seen")
async def async_view(request: HttpRequest) -> HttpResponse:
    request.porpoise.count("async:hits")  # type: ignore[attr-defined]
    return HttpResponse("async")


@method_decorator(track("checkout"), name="dispatch")
class CheckoutView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return JsonResponse({"ok": True})


@track("report:viewed")
class ReportView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("report")


@track("async-cbv:seen")
class AsyncReportView(View):
    """An async class-based view decorated on the class."""

    async def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("async report")


@method_decorator(track("async-cbv:dispatch"), name="dispatch")
class AsyncDispatchView(View):
    """The README's method_decorator form on an async class-based view."""

    async def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("async dispatch")


class HostTracksViewSet(viewsets.ViewSet):
    """A host project's own DRF route whose URL name is ``track-list`` too (issue
    25, case 3: CORS must not be granted to it)."""

    permission_classes = [AllowAny]

    def list(self, request: Any) -> Response:
        return Response({"private": "the host's own data"})
