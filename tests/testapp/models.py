from django.conf import settings
from django.contrib.auth.models import User
from django.db import models


class Order(models.Model):
    """A model whose changes the tests mark declaratively (MODEL_EVENTS)."""

    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    total = models.IntegerField(default=0)

    class Meta:
        app_label = "testapp"

    def __str__(self) -> str:
        return f"Order {self.pk} of {self.customer_id}"


class StaffUser(User):
    """A proxy of the user model: deleting through it must forget the user too."""

    class Meta:
        proxy = True
        app_label = "testapp"
