"""The test matrix, the wheel check and the docs build: ``nox -l`` lists them.

Sessions are named by what they test: ``tests-3.12-django6.0-redis`` runs the
suite on Python 3.12 and Django 6.0 against Debian's ``redis-server``;
``-valkey`` against the pip-installed valkey-server the suite starts by itself.

The interpreters are found on ``PATH`` (``python3.12``) or in pyenv's
versions folder, where pyenv's shims would refuse them when they are not
the global version.
"""

from __future__ import annotations

import glob
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = False
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent
#: (Python, Django requirement) pairs: the supported combinations, also the
#: package's trove classifiers (tests/test_packaging.py holds them equal).
MATRIX = [
    ("3.11", "5.2", "django>=5.2,<5.3"),
    ("3.12", "6.0", "django>=6.0,<6.1"),
    ("3.13", "6.1", "django>=6.1,<6.2"),
]
#: Server families: the embedded Valkey (the suite's default), Debian's Redis.
SERVERS = {"valkey": None, "redis": "/usr/bin/redis-server"}
#: What the sessions other than the first run: every test but the browser ones,
#: those that drive processes (gunicorn under faults, SIGKILL) and the engine
#: tests' second run on a cluster: they test the operating system, Chromium and
#: the cluster's routing, not the Python, Django or server version.
CORE = ["-m", "not browser and not processes and not cluster"]
#: The newest Django also runs the browser tests: the admin's templates and
#: styles change between Django versions, the pages must render on both ends.
CORE_AND_BROWSER = ["-m", "not processes and not cluster"]


def interpreter(version: str) -> str:
    """``python3.12`` on PATH, else the newest pyenv 3.12.x."""
    found = shutil.which(f"python{version}")
    if found and "/shims/" not in found:
        return found
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates = sorted(glob.glob(f"{root}/versions/{version}.*/bin/python{version}"))
    if candidates:
        return candidates[-1]
    return f"python{version}"  # nox reports it missing


def _install(session: nox.Session, django: str) -> None:
    session.install("-e", ".[test]", django)


for python, django_version, django_requirement in MATRIX:
    for server, binary in SERVERS.items():
        name = f"tests-{python}-django{django_version}-{server}"

        def run(
            session: nox.Session,
            requirement: str = django_requirement,
            server_binary: str | None = binary,
            full: bool = (python, server) == ("3.11", "valkey"),
            browser: bool = (python, server) == (MATRIX[-1][0], "valkey"),
        ) -> None:
            _install(session, requirement)
            env = {"PORPOISE_SERVER_BINARY": server_binary} if server_binary else {}
            args = session.posargs or ([] if full else CORE_AND_BROWSER if browser else CORE)
            session.run("python", "runtests.py", "-q", "-p", "no:cacheprovider", *args, env=env)

        nox.session(name=name, python=interpreter(python))(run)


@nox.session(python=interpreter("3.11"))
def wheel(session: nox.Session) -> None:
    """Build the sdist and the wheel, check them, and run the example project
    from the installed wheel, away from the checkout."""
    out = Path(tempfile.mkdtemp(prefix="porpoise-dist-"))
    session.install("build", "twine")
    session.run("python", "-m", "build", "--outdir", str(out), str(ROOT))
    dists = sorted(str(p) for p in out.iterdir())
    session.run("twine", "check", "--strict", *dists)
    [sdist] = [d for d in dists if d.endswith(".tar.gz")]
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ("LICENSE", "CHANGELOG.md", "runtests.py", "tests/conftest.py", "noxfile.py"):
        if needed not in names:
            session.error(f"the sdist lacks {needed}")
    if not any(n.startswith("example_project/") for n in names):
        session.error("the sdist lacks example_project/")
    [built] = [d for d in dists if d.endswith(".whl")]
    session.install(built)
    work = Path(tempfile.mkdtemp(prefix="porpoise-wheel-"))
    shutil.copytree(ROOT / "example_project", work / "example_project")
    shutil.copy(ROOT / ".ci" / "wheel_smoke.py", work / "wheel_smoke.py")
    session.chdir(work / "example_project")
    session.run("python", "manage.py", "check", "--fail-level", "WARNING")
    session.run("python", str(work / "wheel_smoke.py"))


@nox.session(python=interpreter("3.11"))
def docs(session: nox.Session) -> None:
    """The docs site, strictly: a broken link or reference fails the build."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", "--site-dir", tempfile.mkdtemp(prefix="site-"))
