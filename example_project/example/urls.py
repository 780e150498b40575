from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from shop import views

urlpatterns = [
    path("", views.home, name="home"),
    path("songs/", views.songs, name="songs"),
    path("songs/<int:song_id>/play/", views.play, name="play"),
    path("pricing/", views.pricing, name="pricing"),
    path("buy/", views.buy, name="buy"),
    path("signup/", views.signup, name="signup"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),  # the dashboards are at admin/porpoise/
    path("api/porpoise/", include("porpoise_django.api.urls")),
]
