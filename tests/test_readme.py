"""The README and the docs keep their promises: their Python examples run
(pytest-markdown-docs collects them: see pyproject's addopts), their links
lead somewhere, every page is in the site's navigation, and the supported
combinations they state are the ones the test matrix runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def test_the_readme_links_lead_to_files():
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text()):
        if "://" not in target:
            assert (ROOT / target).exists(), target


def test_every_docs_page_is_in_the_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = {p.name for p in DOCS.glob("*.md")}
    assert pages == set(re.findall(r":\s+(\w[\w-]*\.md)\s*$", nav, flags=re.M))


def test_the_readme_has_examples_that_the_suite_runs():
    assert README.read_text().count("```python\n") >= 3
    assert "--markdown-docs" in (ROOT / "pyproject.toml").read_text()


def test_every_setting_is_in_the_settings_table():
    from porpoise_django.conf import DEFAULTS

    table = (DOCS / "django.md").read_text()
    missing = [key for key in DEFAULTS if f"`{key}`" not in table]
    assert missing == []


def test_every_check_id_is_documented():
    from porpoise_django import checks

    ids = set(re.findall(r"porpoise_django\.([EW]\d{3})", Path(checks.__file__).read_text()))
    page = (DOCS / "django.md").read_text()
    assert ids and [i for i in sorted(ids) if f"{i}`" not in page] == []
