"""Server hooks that hand over what a worker holds before it exits.

gunicorn (``gunicorn.conf.py``)::

    from porpoise_django.hooks import worker_exit

uWSGI (in the Django settings or ``wsgi.py``)::

    import uwsgi
    from porpoise_django.hooks import on_exit
    uwsgi.atexit = on_exit

Both run :func:`porpoise_django.delivery.shutdown`: queued writes are sent,
and whatever Redis does not take stays in the worker's spool file for the
next worker. Python's ``atexit`` does the same for a normal exit; these hooks
also cover servers that end workers without running it.
"""

from __future__ import annotations

from typing import Any


def on_exit() -> None:
    """Flush queued writes and close the spool (safe to call more than once)."""
    from porpoise_django import delivery

    delivery.shutdown()


def worker_exit(server: Any, worker: Any) -> None:
    """gunicorn's ``worker_exit`` server hook."""
    on_exit()
