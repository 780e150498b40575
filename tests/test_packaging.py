"""What the package says of itself matches what is tested: the trove classifiers
name exactly the combinations of the nox matrix, the version has one source, and
the API schema shipped with the docs is the one the code generates."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def matrix() -> list[tuple[str, str]]:
    """(Python, Django) pairs of noxfile.MATRIX (read as text: nox is a dev tool)."""
    text = (ROOT / "noxfile.py").read_text()
    return re.findall(r'\("(3\.\d+)", "(\d+\.\d+)", "django', text)


def test_classifiers_are_the_tested_combinations():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    classifiers = project["classifiers"]
    pythons = {
        c.rsplit(" ", 1)[1]
        for c in classifiers
        if c.startswith("Programming Language :: Python :: 3.")
    }
    djangos = {c.rsplit(" ", 1)[1] for c in classifiers if c.startswith("Framework :: Django :: ")}
    tested = matrix()
    assert len(tested) == 3
    assert pythons == {p for p, _ in tested}
    assert djangos == {d for _, d in tested}
    lowest = min(tested, key=lambda pair: tuple(map(int, pair[0].split("."))))[0]
    assert project["requires-python"] == f">={lowest}"


def test_the_version_has_one_source():
    import porpoise_django

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"]["attr"] == (
        "porpoise_django.__version__"
    )
    assert re.fullmatch(r"\d+\.\d+\.\d+", porpoise_django.__version__)
    assert f"## [{porpoise_django.__version__}]" in (ROOT / "CHANGELOG.md").read_text()


@pytest.mark.django_db
def test_the_docs_schema_is_current():
    """docs/openapi.yaml is what the code generates (refresh it with
    ``PORPOISE_UPDATE_SCHEMA=1 python runtests.py tests/test_packaging.py``)."""
    import os

    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiYamlRenderer

    schema = SchemaGenerator(urlconf="tests.urls").get_schema(request=None, public=True)
    text = OpenApiYamlRenderer().render(schema, renderer_context={}).decode()
    stored = ROOT / "docs" / "openapi.yaml"
    if os.environ.get("PORPOISE_UPDATE_SCHEMA"):
        stored.write_text(text)
    assert stored.read_text() == text


def test_the_translations_are_shipped():
    """Every catalogue and compiled catalogue under ``locale/`` is package data
    (the wheel holds it: ``.ci/wheel_smoke.py`` checks the installed one) and in
    MANIFEST.in (the sdist)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package = ROOT / "porpoise_django"
    patterns = project["tool"]["setuptools"]["package-data"]["porpoise_django"]
    shipped = {path for pattern in patterns for path in package.glob(pattern) if path.is_file()}
    locale = {path for path in (package / "locale").rglob("*") if path.is_file()}
    assert {path.suffix for path in locale} == {".po", ".mo"}
    assert locale <= shipped
    for language in ("fr", "de"):
        for domain in ("django", "djangojs"):
            assert package / "locale" / language / "LC_MESSAGES" / f"{domain}.mo" in shipped
    manifest = (ROOT / "MANIFEST.in").read_text().splitlines()
    assert "recursive-include porpoise_django/locale *.po *.mo" in manifest
