#!/usr/bin/env python
"""Run the whole test suite: ``python runtests.py [pytest args]``.

The suite starts its own Redis-compatible server (pip-installed valkey-server)
unless ``REDIS_URL`` points at an empty one.
"""

import os
import sys

import pytest

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(pytest.main(sys.argv[1:]))
