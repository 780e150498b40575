"""The README's first command sets the example up on its own embedded server."""

import os
import subprocess
import sys
from pathlib import Path

MANAGE = Path(__file__).resolve().parent.parent / "example_project" / "manage.py"


def test_rundemo_sets_up_data_and_a_staff_login(tmp_path):
    env = _env(tmp_path)
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


def _env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env["EXAMPLE_DATABASE"] = str(tmp_path / "example.sqlite3")
    env["EXAMPLE_DEMO_STATE"] = str(tmp_path / "demo-server")
    return env


def test_help_starts_no_server(tmp_path):
    for argv in (["help"], ["porpoise_stats", "--help"], []):
        done = subprocess.run(
            [sys.executable, str(MANAGE), *argv],
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "embedded server runs" not in done.stderr, argv


def test_commands_in_another_terminal_use_the_running_demo(tmp_path):
    """While rundemo serves, another manage.py finds its server (and data)
    without anyone exporting REDIS_URL."""
    from porpoise_django.dev.embedded import free_port

    env = _env(tmp_path)
    demo = subprocess.Popen(
        [sys.executable, str(MANAGE), "rundemo", f"127.0.0.1:{free_port()}", "--users", "200",
         "--days", "5"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert demo.stdout is not None
        for line in demo.stdout:
            if "other commands use its data" in line:
                break
        else:
            raise AssertionError("rundemo ended early")
        stats = subprocess.run(
            [sys.executable, str(MANAGE), "porpoise_stats", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert stats.returncode == 0, stats.stderr
        assert "embedded server runs" not in stats.stderr  # it found the demo's
        assert '"event": "signup"' in stats.stdout
    finally:
        demo.terminate()
        demo.wait(timeout=30)
    assert not (tmp_path / "demo-server").exists()  # forgotten when the demo stops


def test_rundemo_on_a_busy_port_says_so_before_any_login(tmp_path):
    """Defect 4 of issue 29: a port in use is an error before a login is printed."""
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        done = subprocess.run(
            [sys.executable, str(MANAGE), "rundemo", f"127.0.0.1:{port}", "--users", "50"],
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode != 0
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
    assert "Staff login" not in done.stdout and "Open http" not in done.stdout


def test_rundemo_takes_a_free_port_when_8000_is_busy(tmp_path):
    import socket

    held = socket.socket()
    try:
        held.bind(("127.0.0.1", 8000))
        held.listen()
    except OSError:
        pass  # busy already: all the same to rundemo
    demo = subprocess.Popen(
        [sys.executable, str(MANAGE), "rundemo", "--users", "50", "--days", "3"],
        env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert demo.stdout is not None
        seen = []
        for line in demo.stdout:
            seen.append(line)
            if "Open http://" in line:
                break
        text = "".join(seen)
        assert "port 8000 is already in use: serving on" in text, text
        url = text.split("Open http://")[1].split("/")[0]
        assert url.startswith("127.0.0.1:") and url != "127.0.0.1:8000"
    finally:
        demo.terminate()
        demo.wait(timeout=30)
        held.close()
