"""The README's first command sets the example up on its own embedded server."""

import os
import subprocess
import sys
from pathlib import Path

MANAGE = Path(__file__).resolve().parent.parent / "example_project" / "manage.py"


def test_rundemo_sets_up_data_and_a_staff_login(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env["EXAMPLE_DATABASE"] = str(tmp_path / "example.sqlite3")
    done = subprocess.run(
        [sys.executable, str(MANAGE), "rundemo", "--no-server", "--users", "300", "--days", "10"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Demo data: signup 300" in done.stdout
    assert "Open http://127.0.0.1:8000/" in done.stdout
    assert "Staff login: demo / " in done.stdout
    checked = subprocess.run(
        [sys.executable, str(MANAGE), "check"], env=env, capture_output=True, text=True, check=False
    )
    assert "no issues" in checked.stdout, checked.stderr
