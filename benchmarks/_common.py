"""Shared plumbing of the benchmark scripts: the server, the peer's virtualenv, a table.

The peer (bitmapist) pins ``redis<6``, so it lives in its own virtualenv
(``benchmarks/.peer-venv``, created on first use from PyPI) and runs in a
subprocess against the same server; both sides are timed in the same run.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import venv
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PEER_VENV = HERE / ".peer-venv"
PEER_PYTHON = PEER_VENV / "bin" / "python"
PEER_PACKAGES = ["bitmapist>=3.100,<4", "hiredis"]


def ensure_peer() -> Path:
    """Create the peer's virtualenv with bitmapist if it is not there yet."""
    if not PEER_PYTHON.exists():
        print(f"creating {PEER_VENV} with {' '.join(PEER_PACKAGES)} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(PEER_VENV)
        subprocess.run([str(PEER_PYTHON), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    return PEER_PYTHON


def run_peer(task: str, **params: Any) -> dict[str, Any]:
    """Run one task of ``peer_bitmapist.py`` in the peer's virtualenv; returns its JSON."""
    python = ensure_peer()
    request = json.dumps({"task": task, **params})
    done = subprocess.run(
        [str(python), str(HERE / "peer_bitmapist.py")],
        input=request,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"peer task {task} failed:\n{done.stderr}")
    return json.loads(done.stdout)


class Peer:
    """bitmapist in one long-lived process of its virtualenv (``peer_bitmapist.py
    serve``): one request, one answer, so its runs interleave with ours round by
    round instead of running in a block before or after them."""

    def __init__(self, url: str) -> None:
        python = ensure_peer()
        self.process = subprocess.Popen(
            [str(python), str(HERE / "peer_bitmapist.py"), "serve", url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def call(self, task: str, **params: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"task": task, **params}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            sys.exit(f"peer task {task} failed (see its stderr above)")
        return json.loads(line)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def interleaved(rounds: int, sides: dict[str, Callable[[], float]]) -> dict[str, float]:
    """Median seconds of each side over ``rounds`` rounds, the sides taking turns
    within each round (a busy machine slows all of them alike). Each callable
    returns the seconds of its own run."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, run in sides.items():
            times[name].append(run())
    return {name: statistics.median(values) for name, values in times.items()}


def timed(fn: Callable[[], Any], repeat: int = 1) -> Callable[[], float]:
    """A callable giving the mean seconds of ``repeat`` calls of ``fn``."""

    def run() -> float:
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        return (time.perf_counter() - start) / repeat

    return run


@contextmanager
def redis_server() -> Iterator[str]:
    """``$REDIS_URL`` if set, else a fresh embedded valkey-server for this run."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    from porpoise_django.dev.embedded import EmbeddedServer

    with EmbeddedServer() as server:
        yield server.url


def configure_django(url: str, urlconf: str, apps: list[str], **overrides: Any) -> None:
    """Configure and set up Django for a benchmark script (sqlite, the Redis cache)."""
    import django
    from django.conf import settings

    options: dict[str, Any] = {
        "DEBUG": False,
        "SECRET_KEY": "benchmark-only",
        "ALLOWED_HOSTS": ["testserver", "127.0.0.1"],
        "USE_TZ": True,
        "TIME_ZONE": "UTC",
        "INSTALLED_APPS": ["django.contrib.auth", "django.contrib.contenttypes", *apps],
        "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        "CACHES": {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": url}},
        "ROOT_URLCONF": urlconf,
        "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
    }
    options.update(overrides)
    settings.configure(**options)
    django.setup()


def best_of(repeat: int, fn: Callable[[], Any]) -> float:
    """Fastest wall time of ``repeat`` calls, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


class Table:
    """Collects rows and prints them aligned, ratios included."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.rows: list[tuple[str, str, str, str, str]] = []

    def add(self, metric: str, ours: str, peer: str, ratio: float | None, target: str) -> None:
        self.rows.append((metric, ours, peer, "-" if ratio is None else f"{ratio:,.1f}x", target))
        print(
            f"  {metric}: porpoise {ours} | bitmapist {peer} | ratio {self.rows[-1][3]}", flush=True
        )

    def print(self) -> None:
        header = ("metric", "porpoise-django", "bitmapist", "ratio", "target")
        widths = [max(len(r[i]) for r in [header, *self.rows]) for i in range(5)]
        print(f"\n## {self.title}\n")
        for row in [header, tuple("-" * w for w in widths), *self.rows]:
            print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


def peer_buckets(pp: Any, names: list[str], periods: dict[str, list[Any]]) -> list[list[Any]]:
    """The ``copy_chunks`` request giving bitmapist our buckets whole: per bucket,
    its chunk keys in order (bitmapist keeps one string per bucket, bit i = id i)."""
    chunks = pp.chunks()
    return [
        [name, granularity, period.start.date().isoformat(),
         [[c, pp.keys.event(name, period, c)] for c in chunks]]
        for name in names
        for granularity, bucket_list in periods.items()
        for period in bucket_list
    ]  # fmt: skip


@contextmanager
def example_under_gunicorn(env: dict[str, str], workers: int = 2) -> Iterator[int]:
    """Serve the example project with gunicorn (``workers`` processes, 4 threads
    each) on a free loopback port; yields the port. Stopped with SIGTERM, so the
    workers flush their writers."""
    import http.client
    import signal

    from porpoise_django.dev.embedded import free_port

    root = HERE.parent
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "example.wsgi:application",
         "--chdir", str(root / "example_project"), "-b", f"127.0.0.1:{port}",
         "-w", str(workers), "--threads", "4", "--log-level", "warning"],
        env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                probe.request("GET", "/")
                probe.getresponse().read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit("gunicorn did not start")
                time.sleep(0.2)
        yield port
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def example_env(redis_url: str, folder: str, prefix: str, secret: str) -> dict[str, str]:
    """The environment the example project runs in for a benchmark: its own Redis,
    database, key prefix and spool in ``folder``, no throttle to speak of."""
    return {
        **os.environ,
        "REDIS_URL": redis_url,
        "DJANGO_SECRET_KEY": secret,
        "DJANGO_DEBUG": "0",
        "EXAMPLE_DATABASE": str(Path(folder) / "example.sqlite3"),
        "EXAMPLE_KEY_PREFIX": prefix,
        "EXAMPLE_TRACK_RATE": "100000000/minute",
        "EXAMPLE_SPOOL_DIR": str(Path(folder) / "spool"),
    }
