"""``@track`` and ``@count`` for function views, class-based views and async views.

    @track("song:played")                          # the logged-in user, on 2xx
    def play(request, song_id): ...

    @count("page:view", id=lambda request, *a, **kw: request.path)
    async def page(request): ...

    @method_decorator(track("checkout"), name="dispatch")
    class CheckoutView(View): ...

    @track("report:viewed")                        # a View subclass directly
    class ReportView(TemplateView): ...

The mark is added to ``request.porpoise`` when the middleware is installed
(one round trip per request), else written at once; either way a Redis outage
never fails the view.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase
from django.utils.decorators import method_decorator
from django.utils.module_loading import import_string
from django.views import View

from porpoise_django import services
from porpoise_django.conf import porpoise_settings
from porpoise_django.tracking import identity
from porpoise_django.tracking.collector import Collector

logger = logging.getLogger("porpoise_django")

ViewT = TypeVar("ViewT", bound=Callable[..., Any])
IdSource = Any  # a value, or a callable(request, *args, **kwargs) -> id


def successful(response: HttpResponseBase) -> bool:
    """The default predicate: mark on 2xx responses only."""
    return 200 <= response.status_code < 300


def _predicate(
    explicit: Callable[[HttpResponseBase], bool] | None,
) -> Callable[[HttpResponseBase], bool]:
    if explicit is not None:
        return explicit
    configured = porpoise_settings.MARK_RESPONSE_PREDICATE
    if configured:
        predicate: Callable[[HttpResponseBase], bool] = (
            import_string(configured) if isinstance(configured, str) else configured
        )
        return predicate
    return successful


def _resolve_id(
    id_source: IdSource, request: HttpRequest, args: Any, kwargs: Any, user_id: Any
) -> Any:
    if callable(id_source):
        return id_source(request, *args, **kwargs)
    if id_source is not None:
        return id_source
    return user_id


def _collector(request: HttpRequest) -> Collector | None:
    collector = getattr(request, "porpoise", None)
    return collector if isinstance(collector, Collector) else None


def _decorate(
    record: Callable[[Collector, Any, HttpRequest, HttpResponseBase], None],
    id_source: IdSource,
    when: Callable[[HttpResponseBase], bool] | None,
) -> Callable[[ViewT], ViewT]:
    def apply(
        request: HttpRequest, response: HttpResponseBase, args: Any, kwargs: Any, user_id: Any
    ) -> None:
        if not _predicate(when)(response):
            return
        who = _resolve_id(id_source, request, args, kwargs, user_id)
        collector = _collector(request)
        standalone = collector is None
        if collector is None:
            collector = Collector()
        try:
            record(collector, who, request, response)
        except ValueError as exc:
            logger.error("porpoise: mark skipped in %s: %s", request.path, exc)
            return
        if standalone:
            collector.flush()

    async def after_async(
        request: HttpRequest, response: HttpResponseBase, args: Any, kwargs: Any
    ) -> HttpResponseBase:
        # Looked up after the view: it may have logged the user in or out.
        user_id = await identity.auser_id(request)
        # thread_sensitive (the default): an ``id=`` callable may use the ORM,
        # and only the sync thread's connections are closed by Django.
        await sync_to_async(apply)(request, response, args, kwargs, user_id)
        return response

    def decorator(view_or_class: ViewT) -> ViewT:
        view: Any = view_or_class
        if isinstance(view, type) and issubclass(view, View):
            return cast(ViewT, method_decorator(decorator, name="dispatch")(view))
        if iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                return await after_async(
                    request, await view(request, *args, **kwargs), args, kwargs
                )

            return cast(ViewT, async_wrapper)

        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            response = view(request, *args, **kwargs)
            if inspect.isawaitable(response):
                # An async class-based view: its dispatch() is a plain method
                # that returns a coroutine, so the decorator cannot tell
                # beforehand; the mark is made once the coroutine has answered.
                return _awaited(response, request, args, kwargs)
            apply(request, response, args, kwargs, identity.user_id(request))
            return response

        async def _awaited(pending: Any, request: HttpRequest, args: Any, kwargs: Any) -> Any:
            return await after_async(request, await pending, args, kwargs)

        return cast(ViewT, wrapper)

    return decorator


def track(
    event: str,
    *,
    id: IdSource = None,
    when: Callable[[HttpResponseBase], bool] | None = None,
    granularities: tuple[str, ...] | None = None,
    track_unique: bool = False,
    properties: Callable[[HttpRequest, HttpResponseBase], Mapping[str, object]] | None = None,
) -> Callable[[ViewT], ViewT]:
    """Mark ``event`` when the view answers (2xx by default) for the user or ``id``;
    ``properties(request, response)`` gives the event properties it carried.

    >>> @track("purchase", properties=lambda request, response: {"source": "ads"})
    ... def checkout(request): ...
    """
    services.validate_event_name(event)

    def record(
        collector: Collector, who: Any, request: HttpRequest, response: HttpResponseBase
    ) -> None:
        if who is not None:
            carried = properties(request, response) if properties is not None else None
            collector.mark(
                event,
                who,
                granularities=granularities,
                track_unique=track_unique,
                properties=carried,
            )

    return _decorate(record, id, when)


def count(
    counter: str,
    *,
    id: IdSource = None,
    by: float = 1,
    when: Callable[[HttpResponseBase], bool] | None = None,
) -> Callable[[ViewT], ViewT]:
    """Add ``by`` to ``counter`` when the view answers, per id (default: the user).

    Unlike :func:`track`, no id is fine (anonymous requests): the counter's
    total still grows.
    """
    services.validate_counter_name(counter)

    def record(
        collector: Collector, who: Any, request: HttpRequest, response: HttpResponseBase
    ) -> None:
        collector.count(counter, who, by)

    return _decorate(record, id, when)
