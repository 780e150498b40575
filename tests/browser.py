"""What the browser tests share: Debian's Chromium, its flags on a closed
network, and the marks every browser test module carries."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MARKS = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian's chromium is not installed (apt-get install -y chromium; .ci/run does)",
    ),
]


def browser_test(test):  # type: ignore[no-untyped-def]
    """Give one test the browser marks (for modules that mix browser tests with others)."""
    for mark in MARKS:
        test = mark(test)
    return test
