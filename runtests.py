#!/usr/bin/env python
"""Run the whole test suite: ``python runtests.py [pytest args]``.

The suite starts its own Redis-compatible server (pip-installed valkey-server)
unless ``REDIS_URL`` points at an empty one. Test files run in 3 worker
processes (pytest-xdist, a file per worker at a time: most tests wait on
servers and processes, not on the CPU); ``PORPOISE_TEST_WORKERS=0`` runs them
in this process, as does naming ``-n`` or ``-p no:xdist`` yourself.
"""

import os
import sys

import pytest


def xdist_args(args: list[str]) -> list[str]:
    """The worker options to add, unless the caller chose or xdist is missing."""
    workers = os.environ.get("PORPOISE_TEST_WORKERS", "3")
    chosen = any(a == "-n" or a.startswith("-n") or a == "no:xdist" for a in args)
    if chosen or workers in ("", "0"):
        return []
    try:
        import xdist  # noqa: F401
    except ImportError:
        return []
    return ["-n", workers, "--dist", "loadfile"]


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    args = sys.argv[1:]
    sys.exit(pytest.main(xdist_args(args) + args))
