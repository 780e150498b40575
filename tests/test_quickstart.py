"""The quickstart's "In your own project", followed literally in a brand-new
``django-admin startproject``: porpoise_server, the settings block, migrate,
porpoise_demo, and the cohort page answers with a table."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

QUICKSTART = Path(__file__).resolve().parent.parent / "docs" / "quickstart.md"


def _own_project_part() -> str:
    text = QUICKSTART.read_text()
    return text[text.index("## In your own project") :]


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def _run(*args: str, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def test_the_quickstart_in_a_new_project_reaches_a_cohort_table(tmp_path):
    part = _own_project_part()
    shell = _blocks(part, "sh")
    assert any("pip install" in block for block in shell)  # an install line for one's project
    assert "porpoise_server" in shell[1]
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "REDIS_URL")}
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite", str(tmp_path)],
        check=True,
        env=env,
    )
    from porpoise_django.dev.embedded import free_port

    port = str(free_port())
    settings_block = _blocks(part, "python")[0].replace("6390", port)
    settings = tmp_path / "mysite" / "settings.py"
    settings.write_text(settings.read_text() + "\n" + settings_block)
    command = shell[1].split("#")[0].split()[1:]  # manage.py porpoise_server --port 6390
    assert command[:2] == ["manage.py", "porpoise_server"]
    server = subprocess.Popen(
        [sys.executable, *[port if a == "6390" else a for a in command]],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        printed = ""
        for line in server.stdout:
            printed += line
            if "runs at" in line:
                break
        assert f"redis://127.0.0.1:{port}/0" in printed, printed
        assert "no issues" in _run("manage.py", "check", cwd=tmp_path, env=env)
        _run("manage.py", "migrate", "-v0", cwd=tmp_path, env=env)
        out = _run(
            "manage.py", "porpoise_demo", "--users", "300", "--days", "21", cwd=tmp_path, env=env
        )
        assert "demo user ids: 2,147,483,648" in out
        page = _run(
            "manage.py",
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model\n"
            "from django.test import Client\n"
            "c = Client()\n"
            "c.force_login(get_user_model().objects.create_superuser('me', password='x'))\n"
            "r = c.get('/admin/porpoise/cohorts/', HTTP_HOST='localhost')\n"
            "print(r.status_code, 'porpoise-cohort-table' in r.content.decode())\n",
            cwd=tmp_path,
            env=env,
        )
        assert page.split()[-2:] == ["200", "True"], page
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_docs_site_asks_no_other_host_for_fonts():
    """Issue 29, defect 12: the site uses system fonts (it is read offline): the
    theme's web fonts are off and nothing in the docs loads from another host.
    (``nox -s docs`` builds the site strictly; CI runs it.)"""
    import yaml

    root = QUICKSTART.parent.parent
    config = yaml.safe_load((root / "mkdocs.yml").read_text().replace("!!python", "#"))
    assert config["theme"]["name"] == "material" and config["theme"]["font"] is False
    assert not config.get("extra_css") and not config.get("extra_javascript")
    for page in (root / "docs").rglob("*"):
        if page.suffix in (".md", ".css", ".html", ".js"):
            text = page.read_text()
            assert "fonts.googleapis.com" not in text and "fonts.gstatic.com" not in text, page


def test_the_quickstart_numbers_no_step_twice():
    text = QUICKSTART.read_text()
    assert "## Step 1" in text and "## Step 2" in text
    assert not re.search(r"^\d+\. ", text, flags=re.M)  # no list broken by code blocks
