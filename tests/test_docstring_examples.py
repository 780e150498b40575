"""Every ``>>>`` example in the package's docstrings runs, as a doctest, on the
test server (issue 29, defect 13): none is skipped, none goes stale.

Each docstring gets a store of its own: ``pp`` (the services' ``Analytics``,
under the test's prefix, its clock at 2026-11-25 10:00 UTC), ``client`` (the
redis-py client behind it), and the module's own names. An example that is
an illustration rather than something to run is an ordinary code block
(``::``), not a ``>>>`` example.
"""

from __future__ import annotations

import datetime as dt
import doctest
import importlib
import io
import pkgutil
import re
from pathlib import Path

import pytest

import porpoise_django

PACKAGE = Path(porpoise_django.__file__).parent
NOW = dt.datetime(2026, 11, 25, 10, tzinfo=dt.UTC)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules() -> list[str]:
    names = ["porpoise_django"]
    names += [m.name for m in pkgutil.walk_packages([str(PACKAGE)], "porpoise_django.")]
    return sorted(n for n in names if ".migrations." not in n)


def _docstrings() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    found = []
    for name in _modules():
        module = importlib.import_module(name)
        found += [t for t in finder.find(module, module=module) if t.examples]
    return found


EXAMPLES = {test.name: test for test in _docstrings()}


def test_no_example_is_skipped():
    skipped = [
        f"{path.relative_to(PACKAGE.parent)}:{n}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"doctest:\s*\+SKIP", line)
    ]
    assert skipped == []


def test_there_are_examples():
    assert len(EXAMPLES) >= 40
    assert sum(len(t.examples) for t in EXAMPLES.values()) >= 100


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_docstring_examples_run(name, porpoise, redis_client):
    pp = porpoise(GRANULARITIES=["hour", "day", "week", "month"])
    pp.clock = lambda: NOW
    test = EXAMPLES[name]
    test.globs = {**test.globs, "pp": pp, "client": redis_client, "dt": dt}
    out = io.StringIO()
    result = doctest.DocTestRunner(optionflags=FLAGS).run(test, out=out.write)
    assert result.failed == 0, out.getvalue()
