"""Drop-in modules for code written against the peers.

Change one import and keep the code::

    from porpoise_django.compat import bitmapist   # was: import bitmapist

They sit on the engine (no Django), over the same key layout as the rest of
porpoise-django, so marks made through them show in the admin and the API.
"""
