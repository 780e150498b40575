"""Saved reports: any dashboard's query kept under a name, in Redis under the
prefix (one hash, no model), listed on the overview, pinned ones first.

A report keeps the page and its whole query (the form's data, defaults
included), so its URL, ``admin/porpoise/reports/<name>/``, always opens the
same report, whatever the page's defaults later become. Saving is a POST
with the admin's CSRF token, by whom the dashboards admit.
"""

from __future__ import annotations

import json

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext

from porpoise_django.admin.saved import key, save, saved, titled, url_of
from porpoise_django.admin.views import page_context, site_page
from porpoise_django.services import get_analytics


@site_page
def reports_page(site: admin.AdminSite, request: HttpRequest) -> HttpResponse:
    """GET: the saved reports (``?format=json`` too); POST: save, pin or delete one."""
    pp = get_analytics()
    error = ""
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponse("GET or POST", status=405, headers={"Allow": "GET, POST"})
    if request.method == "POST":
        action, name = request.POST.get("action", "save"), request.POST.get("name", "")
        try:
            if action == "delete":
                pp.client.hdel(key(pp), name.strip())
            else:
                save(
                    pp,
                    name,
                    request.POST.get("page", ""),
                    request.POST.get("query", ""),
                    pinned=bool(request.POST.get("pinned")),
                )
        except ValueError as exc:
            error = str(exc)
        else:
            if action == "save" and request.POST.get("open"):
                return HttpResponseRedirect(reverse(f"{site.name}:porpoise_report", args=[name]))
            return HttpResponseRedirect(reverse(f"{site.name}:porpoise_reports"))
    listed = [{**r, "url": url_of(site.name, r)} for r in saved(pp)]
    if request.GET.get("format") == "json":
        return JsonResponse({"reports": listed}, status=400 if error else 200)
    context = page_context(
        site, request, gettext("Saved reports"), reports=titled(listed), error=error
    )
    return render(
        request, "porpoise_django/admin/reports.html", context, status=400 if error else 200
    )


@site_page
def report_page(site: admin.AdminSite, request: HttpRequest, name: str) -> HttpResponse:
    """The saved report ``name``: its page with its whole query."""
    pp = get_analytics()
    raw = pp.client.hget(key(pp), name)
    if raw is None:
        context = page_context(
            site,
            request,
            gettext("Saved reports"),
            reports=titled([{**r, "url": url_of(site.name, r)} for r in saved(pp)]),
            error=gettext("no saved report %(name)r") % {"name": name},
        )
        return render(request, "porpoise_django/admin/reports.html", context, status=404)
    return HttpResponseRedirect(url_of(site.name, json.loads(raw)))
