"""Login, logout, signup and declarative model events; written on commit."""

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from porpoise_django.signals import event_marked
from tests.testapp.models import Order

pytestmark = pytest.mark.django_db(transaction=True)


def test_signup_login_and_logout_are_marked(client, porpoise):
    pp = porpoise()
    user = get_user_model().objects.create_user("bob", password="pw")
    assert list(pp.event("signup").day()) == [user.pk]
    assert client.login(username="bob", password="pw")
    assert list(pp.event("login").day()) == [user.pk]
    client.logout()
    assert list(pp.event("logout").day()) == [user.pk]


def test_each_builtin_receiver_can_be_switched_off(client, porpoise):
    pp = porpoise(SIGNUP_EVENT=None, LOGIN_EVENT=None, LOGOUT_EVENT="signed-out")
    get_user_model().objects.create_user("bob", password="pw")
    client.login(username="bob", password="pw")
    client.logout()
    assert pp.event_names() == ["signed-out"]


def test_marks_inside_a_rolled_back_transaction_are_not_written(porpoise):
    pp = porpoise()
    with pytest.raises(RuntimeError), transaction.atomic():
        get_user_model().objects.create_user("ghost", password="pw")
        raise RuntimeError("rollback")
    assert pp.event_names() == []
    with transaction.atomic():
        user = get_user_model().objects.create_user("real", password="pw")
        assert pp.event_names() == []  # not before the commit
    assert list(pp.event("signup").day()) == [user.pk]


def test_declarative_model_events(porpoise):
    pp = porpoise(
        MODEL_EVENTS={
            "testapp.Order": {
                "created": "order:created",
                "updated": "order:updated",
                "deleted": "order:deleted",
                "user": "customer",
            }
        }
    )
    customer = get_user_model().objects.create_user("cat", password="pw")
    order = Order.objects.create(customer=customer, total=5)
    assert list(pp.event("order:created").day()) == [customer.pk]
    assert "order:updated" not in pp.event_names()
    order.total = 7
    order.save()
    assert list(pp.event("order:updated").day()) == [customer.pk]
    order.delete()
    assert list(pp.event("order:deleted").day()) == [customer.pk]


def test_event_marked_signal(porpoise, client):
    porpoise()
    seen = []

    def receiver(sender, event, id, timestamp, **kwargs):
        seen.append((event, id))

    event_marked.connect(receiver)
    try:
        user = get_user_model().objects.create_user("dan", password="pw")
        client.force_login(user)
        client.get("/played/3/")
    finally:
        event_marked.disconnect(receiver)
    assert ("signup", user.pk) in seen
    assert ("song:played", user.pk) in seen
    assert ("active", user.pk) in seen
