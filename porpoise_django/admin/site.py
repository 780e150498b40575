"""Puts "Porpoise analytics" into the default ``admin.site``, with no model.

Django's admin lists apps from registered models; porpoise has none. So, for
the default site only, this wraps two of its methods (``porpoise_django.admin``,
which the admin's autodiscovery imports, calls :func:`install`):

- ``get_urls`` adds the dashboard URLs under ``admin/porpoise/`` (names
  ``admin:porpoise_overview`` and so on), so no ``include`` is needed, and
  the app's JavaScript catalogue (``admin:porpoise_jsi18n``: the admin's own
  ``jsi18n`` serves only django.contrib.admin's strings);
- ``get_app_list`` adds an app entry with one row per page, which the admin
  index and the navigation sidebar both show, to staff only.

Another ``AdminSite`` can call ``install(site)`` itself.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.i18n import JavaScriptCatalog

from porpoise_django.admin import people, reports, views
from porpoise_django.admin.pages import PAGES
from porpoise_django.permissions import may_view

#: Page slug -> view function name in views, where they differ.
VIEW_NAMES = {"lifecycle": "lifecycle_page", "people": "people_page"}


def dashboard_urls(site: admin.AdminSite) -> list[URLPattern]:
    # Each page is bound to this site (its permission, login, header, sidebar).
    # Not site.admin_view(): it sends logged-in users the site refuses to the
    # login page; the pages answer them 403 instead.
    pages = [
        path(
            f"porpoise/{slug}/",
            partial(
                getattr(people if slug == "people" else views, VIEW_NAMES.get(slug, slug)), site
            ),
            name=f"porpoise_{slug}",
        )
        for slug, _ in PAGES
    ]
    person = path(
        "porpoise/people/<str:id>/", partial(people.person_page, site), name="porpoise_person"
    )
    return [
        *pages,
        person,
        path("porpoise/reports/", partial(reports.reports_page, site), name="porpoise_reports"),
        path(
            "porpoise/reports/<str:name>/",
            partial(reports.report_page, site),
            name="porpoise_report",
        ),
        path("porpoise/", partial(views.overview, site), name="porpoise_index"),
        # The strings of the app's scripts, in the active language (public, as
        # the scripts themselves are).
        path(
            "porpoise/jsi18n/",
            JavaScriptCatalog.as_view(packages=["porpoise_django"]),
            name="porpoise_jsi18n",
        ),
    ]


def app_entry(site: admin.AdminSite, request: HttpRequest) -> dict[str, Any]:
    rows = []
    for slug, title in PAGES:
        url = reverse(f"{site.name}:porpoise_{slug}")
        rows.append(
            {
                "name": title,
                "object_name": slug,
                "admin_url": url,
                "add_url": None,
                "view_only": True,
                "perms": {"add": False, "change": False, "delete": False, "view": True},
            }
        )
    return {
        "name": _("Porpoise analytics"),
        "app_label": "porpoise_django",
        "app_url": reverse(f"{site.name}:porpoise_overview"),
        "has_module_perms": True,
        "models": rows,
    }


def install(site: admin.AdminSite) -> None:
    """Add the dashboards to ``site`` (idempotent)."""
    if getattr(site, "_porpoise_installed", False):
        return
    original_urls = site.get_urls
    original_app_list = site.get_app_list

    def get_urls() -> list[Any]:
        people.add_forget_action(site)  # the user admin is registered by now
        return dashboard_urls(site) + original_urls()

    def get_app_list(request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        apps = original_app_list(request, app_label)
        if (
            app_label in (None, "porpoise_django")
            and site.has_permission(request)
            and may_view(request.user)
        ):
            apps = [*apps, app_entry(site, request)]
            apps.sort(key=lambda app: app["name"].lower())
        return apps

    site.get_urls = get_urls  # type: ignore[method-assign]
    site.get_app_list = get_app_list  # type: ignore[method-assign]
    site._porpoise_installed = True  # type: ignore[attr-defined]
