"""hailwhale's HTTP service as a Django URLconf::

    urlpatterns = [path("hailwhale/", include("porpoise_django.compat.hailwhale.urls"))]

``/count`` (queued by ``Hail``), ``/count_now``, ``/flush_hail``, ``/reset``,
``/totals``, ``/plotpoints``, ``/count_decision`` and ``/decide`` take
hailwhale's query parameters, JSON-encoded as hailwhale's clients send them
(``pk="test"&dimensions=["empty"]&metrics={"dollars": 5}``), and answer as it
does: ``OK`` as text, data as JSON. Bad input is a 400 with the reason.

The store is ``Whale``'s: the one given to ``Whale.use()``, or the one built
from ``Whale.whale_driver_settings``, or else the Django app's
(``porpoise_django.services.get_analytics()``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.urls import path
from django.views.decorators.http import require_GET

from porpoise_django.compat.hailwhale.hail import Hail
from porpoise_django.compat.hailwhale.keys import try_loads
from porpoise_django.compat.hailwhale.whale import Whale, as_utc
from porpoise_django.engine import PorpoiseError


def _ready() -> type[Whale]:
    if not Whale.has_store() and not Whale.whale_driver_settings:
        from porpoise_django import services

        Whale.use(services.get_analytics())
    return Whale


def _get(request: HttpRequest, name: str, default: Any = None) -> Any:
    raw = request.GET.get(name)
    if raw is None:
        return default
    value = try_loads(raw)
    return default if value in ("", [], {}, '""', [""]) else value


def _params(request: HttpRequest) -> dict[str, Any]:
    """hailwhale's common parameters: ``pk``, ``dimensions`` and ``metrics``."""
    return {
        "pk": _get(request, "pk", "_"),
        "dimensions": _get(request, "dimensions", "_"),
        # the README's third example spells it metric=
        "metrics": _get(request, "metrics", _get(request, "metric", {"hits": 1})),
    }


def _at(request: HttpRequest) -> Any:
    text = _get(request, "at")
    if text in (None, False):
        return None
    import datetime as dt

    try:
        return as_utc(dt.datetime.fromisoformat(str(text)))
    except ValueError:
        raise ValueError(f"at={text!r}: use an ISO date and time, e.g. 2026-01-02T13:00") from None


def _view(answer: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], HttpResponse]:
    @require_GET
    def view(request: HttpRequest) -> HttpResponse:
        try:
            value = answer(request)
        except (ValueError, TypeError, KeyError, PorpoiseError) as exc:
            response: HttpResponse = HttpResponseBadRequest(str(exc), content_type="text/plain")
        else:
            if isinstance(value, str):
                response = HttpResponse(value, content_type="text/plain")
            else:
                response = JsonResponse(value, safe=False)
        response["Access-Control-Allow-Origin"] = "*"  # hailwhale's clients are pages anywhere
        return response

    view.__name__ = answer.__name__
    return view


def count(request: HttpRequest) -> str:
    _ready()
    return Hail.count(at=_at(request), **_params(request))


def count_now(request: HttpRequest) -> str:
    _ready().count_now(at=_at(request), **_params(request))
    return "OK"


def flush_hail(request: HttpRequest) -> str:
    _ready()
    Hail.dump_now()
    return "OK"


def reset(request: HttpRequest) -> str:
    params = _params(request)
    _ready().reset(params["pk"])
    return "OK"


def _metric_names(request: HttpRequest) -> Any:
    metrics = _get(request, "metrics", ["hits"])
    return list(metrics) if isinstance(metrics, dict) else metrics


def totals(request: HttpRequest) -> Any:
    params = _params(request)
    period = _get(request, "period")
    whale = _ready()
    if period is not None:
        return whale.totals(
            params["pk"], params["dimensions"], _metric_names(request), period=period
        )
    return whale.totals(
        params["pk"], params["dimensions"], _metric_names(request), _get(request, "periods")
    )


def plotpoints(request: HttpRequest) -> Any:
    params = _params(request)
    return _ready().plotpoints(
        params["pk"],
        params["dimensions"],
        _metric_names(request),
        period=_get(request, "period"),
        depth=int(_get(request, "depth", 0)),
        limit=int(_get(request, "limit", 10)),
        sort=_get(request, "sort"),
        tzoffset=_get(request, "tzoffset"),
        flot_time=True,
    )


def count_decision(request: HttpRequest) -> str:
    params = _params(request)
    _ready().count_decision(
        params["pk"],
        decided=_get(request, "decided"),
        option=_get(request, "option"),
        metric=_get(request, "metric", params["metrics"]),
        dimensions=params["dimensions"],
        at=_at(request),
    )
    return "OK"


def decide(request: HttpRequest) -> Any:
    params = _params(request)
    options = _get(request, "options")
    if not options:
        raise ValueError("options are needed, e.g. options=['a', 'b']")
    return _ready().decide(
        params["pk"],
        options=options if isinstance(options, (list, dict)) else [options],
        known_dimensions=params["dimensions"],
        by_metric=_get(request, "by_metric"),
    )


urlpatterns = [
    path(name, _view(answer), name=f"hailwhale-{name}")
    for name, answer in (
        ("count", count),
        ("count_now", count_now),
        ("flush_hail", flush_hail),
        ("reset", reset),
        ("totals", totals),
        ("plotpoints", plotpoints),
        ("count_decision", count_decision),
        ("decide", decide),
    )
]
