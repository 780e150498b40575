"""Where the example project finds Redis.

1. ``REDIS_URL`` when it is set;
2. else the server of a running ``rundemo``, so that ``manage.py porpoise_stats``
   (or any command) in a second terminal sees the demo's data;
3. else an embedded valkey-server of its own, stopped when the process exits.

Commands that never touch Redis (``help``, ``--help``, ``--version``) start
nothing.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
from pathlib import Path

import redis

from porpoise_django.dev.embedded import ensure_server

#: Where a running rundemo says which server it uses.
STATE = Path(
    os.environ.get("EXAMPLE_DEMO_STATE", Path(__file__).resolve().parent.parent / ".demo-server")
)
#: A URL for commands that make no connection (nothing listens there).
UNUSED = "redis://127.0.0.1:1/0"


def needs_no_server(argv: list[str]) -> bool:
    """``manage.py``, ``manage.py help ...``, ``--help``/``-h``, ``--version``."""
    return (
        len(argv) < 2
        or argv[1] in {"help", "--help", "-h", "version", "--version"}
        or any(arg in ("--help", "-h") for arg in argv[2:])
    )


def running_demo() -> str | None:
    """The URL of the server a running rundemo published, if it still answers."""
    try:
        url = json.loads(STATE.read_text())["url"]
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        client.ping()
        client.close()
        return str(url)
    except (OSError, ValueError, KeyError, redis.RedisError):
        return None


def redis_url(argv: list[str] | None = None) -> str:
    """The Redis this process uses (see the module docstring)."""
    argv = sys.argv if argv is None else argv
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    if needs_no_server(argv):
        return UNUSED
    url = running_demo()
    if url:
        os.environ["REDIS_URL"] = url  # child processes (the reloader) use it too
        return url
    url = ensure_server()
    print(f"example: no REDIS_URL, so an embedded server runs at {url}", file=sys.stderr)
    return url


def publish(url: str) -> None:
    """Tell other commands of this project which server the running demo uses
    (forgotten when this process exits)."""
    pid = os.getpid()
    STATE.write_text(json.dumps({"url": url, "pid": pid}))

    def forget() -> None:
        try:
            if json.loads(STATE.read_text()).get("pid") == pid:
                STATE.unlink()
        except (OSError, ValueError):
            pass

    atexit.register(forget)
