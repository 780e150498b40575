"""Signals sent by porpoise-django.

``event_marked`` is sent each time a mark is accepted (before it is written),
with ``event``, ``id`` and ``timestamp`` (epoch seconds)::

    from porpoise_django.signals import event_marked

    @receiver(event_marked)
    def on_mark(sender, event, id, timestamp, **kwargs):
        ...
"""

from django.dispatch import Signal

event_marked = Signal()
