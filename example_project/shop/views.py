"""A tiny music shop. The middleware marks ``active``; the decorators and
``request.porpoise`` mark the rest; signup and login come from the signals."""

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from porpoise_django.decorators import count, track
from porpoise_django.services import get_analytics

SONGS = {i: f"Song {i}" for i in range(1, 11)}


@count("page:view", id=lambda request: request.path)
def home(request: HttpRequest) -> HttpResponse:
    pp = get_analytics()
    figures = {
        "active_today": len(pp.event("active").day()),
        "active_this_week": len(pp.event("active").week()),
        "signups_this_month": len(pp.event("signup").month()),
        "top_songs": pp.counter("song:played").top(pp.range("day", -6), 5),
    }
    return render(request, "shop/home.html", figures)


@count("page:view", id=lambda request: request.path)
def songs(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/songs.html", {"songs": SONGS})


@login_required
@track("song:played")
def play(request: HttpRequest, song_id: int) -> HttpResponse:
    request.porpoise.count("song:played", id=f"song-{song_id}")  # type: ignore[attr-defined]
    return render(request, "shop/played.html", {"song": SONGS.get(song_id, "?")})


@count("page:view", id=lambda request: request.path)
def pricing(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/pricing.html")


@login_required
@require_POST
@track("purchase")
def buy(request: HttpRequest) -> HttpResponse:
    request.porpoise.count("revenue", by=9.99)  # type: ignore[attr-defined]
    return render(request, "shop/bought.html")


def signup(request: HttpRequest) -> HttpResponse:
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()  # the signup signal marks "signup"
        login(request, user)  # and this marks "login"
        return redirect("home")
    return render(request, "shop/signup.html", {"form": form})
