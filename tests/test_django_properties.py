"""Breakdowns from Django: PERSON_PROPERTIES synced from the user model, the sync
command, event properties from decorators and the collector, through an outage."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.http import HttpResponse
from django.test import RequestFactory

from porpoise_django import delivery, services
from porpoise_django.decorators import track
from porpoise_django.tracking.collector import Collector

pytestmark = pytest.mark.django_db(transaction=True)


def plan_of(user):
    """A PERSON_PROPERTIES callable (named by its dotted path in the tests)."""
    return "pro" if user.username.startswith("pro") else "free"


PROPS = {"plan": "tests.test_django_properties.plan_of", "staff": "is_staff"}


def test_saving_a_user_writes_its_person_properties(porpoise):
    pp = porpoise(PERSON_PROPERTIES=PROPS)
    User = get_user_model()
    alice = User.objects.create_user("pro-alice", password="pw")
    bob = User.objects.create_user("bob", password="pw", is_staff=True)
    assert list(pp.where(plan="pro")) == [alice.pk]
    assert list(pp.where(staff="true")) == [bob.pk]
    bob.username = "pro-bob"
    bob.save()  # moves out of "free"
    assert sorted(pp.where(plan="pro")) == [alice.pk, bob.pk]
    assert list(pp.where(plan="free")) == []
    assert pp.event("signup").day().breakdown("plan") == {"pro": 2, "free": 0}


def maybe_name(user):
    return user.first_name or None


def test_a_value_of_none_clears_the_property(porpoise):
    pp = porpoise(PERSON_PROPERTIES={"name": "tests.test_django_properties.maybe_name"})
    user = get_user_model().objects.create_user("carol", password="pw", first_name="Carol")
    assert list(pp.where(name="Carol")) == [user.pk]
    user.first_name = ""
    user.save()
    assert list(pp.where(name="Carol")) == []


def test_a_value_the_engine_refuses_never_fails_the_save(porpoise, caplog):
    pp = porpoise(PERSON_PROPERTIES={"name": "first_name"})
    user = get_user_model().objects.create_user("dan", password="pw", first_name="Dan Smith")
    assert get_user_model().objects.filter(pk=user.pk).exists()
    assert "person properties of user" in caplog.text
    assert pp.event("signup").day().count() == 1


def test_the_sync_command_writes_existing_users_in_batches(porpoise):
    pp = porpoise()
    User = get_user_model()
    users = [User.objects.create_user(f"{'pro' if i % 3 == 0 else 'u'}{i}") for i in range(7)]
    with pytest.raises(CommandError, match="names no property"):
        call_command("porpoise_sync_properties", "--quiet")
    pp = porpoise(PERSON_PROPERTIES=PROPS)
    call_command("porpoise_sync_properties", "--batch-size", "3", "--quiet")
    assert sorted(pp.where(plan="pro")) == [u.pk for u in users if u.username.startswith("pro")]
    assert len(pp.where(staff="false")) == 7
    with pytest.raises(CommandError, match="batch-size"):
        call_command("porpoise_sync_properties", "--batch-size", "0", "--quiet")


def test_e040_bad_person_properties(settings):
    settings.PORPOISE = {"PERSON_PROPERTIES": ["plan"]}
    assert "porpoise_django.E040" in {m.id for m in run_checks()}
    settings.PORPOISE = {"PERSON_PROPERTIES": {"pl an": "x", "plan": ""}}
    found = [m for m in run_checks() if m.id == "porpoise_django.E040"]
    assert len(found) == 2 and all(m.hint for m in found)
    settings.PORPOISE = {"PERSON_PROPERTIES": PROPS}
    assert "porpoise_django.E040" not in {m.id for m in run_checks()}


def test_track_and_the_collector_carry_event_properties(porpoise):
    pp = porpoise()

    @track("purchase", id=lambda request: 5, properties=lambda req, resp: {"source": "ads"})
    def checkout(request):
        return HttpResponse("ok")

    checkout(RequestFactory().get("/checkout/"))
    collector = Collector()
    collector.mark("purchase", 6, properties={"source": "mail"})
    with pytest.raises(ValueError, match="value of property"):
        collector.mark("purchase", 7, properties={"source": "bad value"})
    collector.flush()
    assert pp.event("purchase").day().breakdown("source") == {"ads": 1, "mail": 1}


def test_event_properties_survive_an_outage(porpoise, private_server):
    pp = porpoise(REDIS_URL=private_server.url, RETRY_SECONDS=0.05, SOCKET_TIMEOUT=0.3)
    write = delivery.mark("purchase", 9, properties={"source": "ads"})
    private_server.stop()
    assert delivery.record([write]) is False
    assert services.set_properties(9, {"plan": "pro"}) is False  # logged, never raised
    private_server.start()
    assert delivery.flush_buffer()
    assert pp.event("purchase").day().breakdown("source") == {"ads": 1}
