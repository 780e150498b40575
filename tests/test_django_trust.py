"""Django-side regressions of the trust issue: async class-based views, commits
on the right database, signals after the commit, and the stats command."""

import io
import json

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction

from porpoise_django.signals import event_marked
from tests.testapp.models import Order


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("ann", password="pw")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("path", "event"),
    [("/async-report/", "async-cbv:seen"), ("/async-dispatch/", "async-cbv:dispatch")],
)
def test_async_class_based_views_under_both_clients(
    client, async_client, porpoise, user, path, event
):
    pp = porpoise()
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200, response.content
    assert list(pp.event(event).day()) == [user.pk]
    pp.delete_event(event)

    async def scenario():
        await async_client.aforce_login(user)
        return await async_client.get(path)

    response = async_to_sync(scenario)()
    assert response.status_code == 200, response.content
    assert list(pp.event(event).day()) == [user.pk]


@pytest.mark.django_db(transaction=True, databases=["default", "other"])
def test_model_events_wait_for_the_commit_of_their_own_database(porpoise):
    pp = porpoise(MODEL_EVENTS={"testapp.Order": {"created": "order:created", "user": "customer"}})
    customer = get_user_model().objects.db_manager("other").create_user("cat", password="pw")
    with transaction.atomic(using="other"):
        Order.objects.using("other").create(customer=customer, total=5)
        # The default database is in autocommit: a mark tied to it would be
        # written at once, although this order may still be rolled back.
        assert "order:created" not in pp.event_names()
    assert list(pp.event("order:created").day()) == [customer.pk]

    with pytest.raises(RuntimeError), transaction.atomic(using="other"):
        Order.objects.using("other").create(customer=customer, total=6)
        raise RuntimeError("rollback")
    assert list(pp.event("order:created").day()) == [customer.pk]


@pytest.mark.django_db(transaction=True)
def test_event_marked_is_sent_after_the_commit_and_not_on_rollback(porpoise):
    porpoise()
    seen = []

    def receiver(sender, event, id, timestamp, **kwargs):
        seen.append(event)

    event_marked.connect(receiver)
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            get_user_model().objects.create_user("ghost", password="pw")
            raise RuntimeError("rollback")
        assert seen == []
        with transaction.atomic():
            get_user_model().objects.create_user("real", password="pw")
            assert seen == []  # not before the commit
        assert seen == ["signup"]
    finally:
        event_marked.disconnect(receiver)


@pytest.mark.django_db
def test_stats_last_mark_is_never_in_the_future_and_counters_have_this_week(porpoise):
    pp = porpoise()
    pp.mark("active", 1)
    pp.count("plays", 1, 3)
    out = io.StringIO()
    call_command("porpoise_stats", "--json", stdout=out)
    report = json.loads(out.getvalue())
    [event] = report["events"]
    assert event["last"] <= pp.now().isoformat()
    assert report["counters"] == [{"counter": "plays", "today": 3, "this_week": 3}]
    out = io.StringIO()
    call_command("porpoise_stats", stdout=out)
    assert "this week" in out.getvalue().split("counter(s):")[1]
