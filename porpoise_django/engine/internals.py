"""Engine internals other parts of the package need, named in one place.

Not public API: these may change in any release. Today only the migration
from bitmapist (:mod:`porpoise_django.compat.bitmapist_data`), which writes
the registries directly, uses them.
"""

from porpoise_django.engine.storage.buckets import BucketRegistry
from porpoise_django.engine.values import text

__all__ = ["BucketRegistry", "text"]
