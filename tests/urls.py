from django.contrib import admin
from django.urls import include, path

from tests.testapp import views
from tests.testapp.console import console

urlpatterns = [
    path("admin/", admin.site.urls),
    path("console/", console.urls),
    path("api/porpoise/", include("porpoise_django.api.urls")),
    path("plain/", views.plain),
    path("static/thing.css", views.plain),
    path("collect/", views.collect),
    path("played/<int:song_id>/", views.played),
    path("liked/<int:song_id>/", views.liked),
    path("failing/", views.failing),
    path("bad-id/", views.bad_id),
    path("counted/", views.counted),
    path("async/", views.async_view),
    path("checkout/", views.CheckoutView.as_view()),
    path("report/", views.ReportView.as_view()),
    path("async-report/", views.AsyncReportView.as_view()),
    path("async-dispatch/", views.AsyncDispatchView.as_view()),
]
