"""porpoise-django: product analytics kept in Redis, for Django.

The engine (``porpoise_django.engine``) has no Django import and works over any
redis-py client; the rest of the package binds it to Django.
"""

__version__ = "0.1.0"
