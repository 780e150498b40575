"""Real faults under a real server: the example project under gunicorn (2 workers,
4 threads), concurrent clients on ``POST track/`` (one mark with a unique id and
one count per request, signed token) and on a ``@count`` view, and Redis
killed, hung, filled, or the workers stopped or recycled during an outage.
After each fault: every write the API accepted is stored (ids and counter
totals, read in the project's zone), every view answered is counted exactly
once, and no request answered anything but 2xx.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis

from porpoise_django.dev.embedded import EmbeddedServer, free_port
from porpoise_django.engine import Analytics

ROOT = Path(__file__).resolve().parent.parent
MANAGE = str(ROOT / "example_project" / "manage.py")
ZONE = "Europe/Paris"  # the example project's TIME_ZONE
pytestmark = pytest.mark.processes


class Site:
    """The example project under gunicorn, on a server this test owns."""

    def __init__(self, server: EmbeddedServer, folder: Path, prefix: str) -> None:
        self.server = server
        self.prefix = prefix
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "example.settings",  # not the suite's
            "REDIS_URL": server.url,
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(32),
            "DJANGO_DEBUG": "0",
            "EXAMPLE_DATABASE": str(folder / "db.sqlite3"),
            "EXAMPLE_KEY_PREFIX": prefix,
            "EXAMPLE_TRACK_RATE": "100000000/minute",
            "EXAMPLE_SPOOL_DIR": str(folder / "spool"),
            "EXAMPLE_RETRY_SECONDS": "0.2",
        }
        subprocess.run([sys.executable, MANAGE, "migrate", "-v", "0"], env=self.env, check=True)
        self.token = (
            subprocess.run(
                [sys.executable, MANAGE, "shell", "-c",
                 "from porpoise_django.api.tokens import make_track_token as m;"
                 "print(m(events=['load'], counters=['load']))"],
                env=self.env, check=True, capture_output=True, text=True,
            ).stdout.strip().splitlines()[-1]
        )  # fmt: skip
        self.port = free_port()
        self.gunicorn: subprocess.Popen | None = None

    def start(self, *extra: str) -> None:
        self.gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "example.wsgi:application",
             "--chdir", str(ROOT / "example_project"), "-b", f"127.0.0.1:{self.port}",
             "-w", "2", "--threads", "4", "--log-level", "warning",
             "--graceful-timeout", "20", *extra],
            env=self.env,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                probe = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                probe.request("GET", "/api/porpoise/schema/")
                probe.getresponse().read()
                return
            except OSError:
                assert time.monotonic() < deadline and self.gunicorn.poll() is None
                time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM: gunicorn stops its workers gracefully (their exit hooks run)."""
        if self.gunicorn is not None and self.gunicorn.poll() is None:
            self.gunicorn.send_signal(signal.SIGTERM)
            self.gunicorn.wait(60)
        self.gunicorn = None

    def store(self) -> Analytics:
        return Analytics(redis.Redis.from_url(self.server.url), prefix=self.prefix, tz=ZONE)


class Traffic:
    """Client threads alternating ``POST track/`` (one mark with a unique id and one
    count) and ``GET /pricing/``, a view whose ``@count("page:view")`` decorator
    counts each answer."""

    def __init__(self, site: Site, clients: int = 6) -> None:
        self.site = site
        self.accepted: list[int] = []
        #: Count rows the API accepted (one per answered request, unless refused).
        self.counts = 0
        self.statuses: dict[int, int] = {}
        self.no_answer = 0
        self.unanswered_tracks = 0  # of which tracking requests
        self.views = 0  # 200 answers of the @count view
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(clients)
        ]
        self._next = [n * 1_000_000 for n in range(clients)]

    def _client(self, number: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.site.port, timeout=10)
        while not self._stop.is_set():
            if self._next[number] % 2:
                self._view(conn)
                self._next[number] += 1
                continue
            ident = self._next[number]
            self._next[number] += 1
            body = json.dumps({"rows": [{"event": "load", "id": ident}, {"counter": "load"}]})
            try:
                conn.request("POST", "/api/porpoise/track/", body=body, headers={
                    "Content-Type": "application/json", "X-Porpoise-Token": self.site.token,
                })  # fmt: skip
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                with self._lock:
                    self.no_answer += 1
                    self.unanswered_tracks += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.site.port, timeout=10)
                time.sleep(0.05)
                continue
            with self._lock:
                self.statuses[response.status] = self.statuses.get(response.status, 0) + 1
                if response.status == 202:
                    answer = json.loads(payload)
                    refused = {e["index"] for e in answer.get("errors", [])}
                    if 0 not in refused:
                        self.accepted.append(ident)
                    if 1 not in refused:
                        self.counts += 1
            time.sleep(0.002)

    def _view(self, conn: http.client.HTTPConnection) -> None:
        try:
            conn.request("GET", "/pricing/")
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            with self._lock:
                self.no_answer += 1
            conn.close()
            return
        with self._lock:
            self.statuses[response.status] = self.statuses.get(response.status, 0) + 1
            self.views += response.status == 200

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(20)

    def since(self, mark: int) -> set[int]:
        return set(self.accepted[mark:])


def settled(site: Site, traffic: Traffic, ids: set[int] | None = None, seconds: float = 40) -> None:
    """Wait until every accepted write is stored (the spools' timers replay them)."""
    wanted = set(traffic.accepted) if ids is None else ids
    deadline = time.monotonic() + seconds
    while True:
        pp = site.store()
        stored = set(pp.event("load").day().ids().tolist())
        if wanted <= stored:
            return
        assert time.monotonic() < deadline, f"{len(wanted - stored)} accepted writes not stored"
        time.sleep(0.5)


def counted(site: Site, counter: str = "load") -> float:
    pp = site.store()
    return pp.counter(counter).total(pp.period("day"))


def counted_once(site: Site, traffic: Traffic) -> None:
    """Every count the API accepted is applied exactly once; a request that got
    no answer (a timeout, a reset) may have been applied, at most once."""
    total = counted(site)
    assert traffic.counts <= total <= traffic.counts + traffic.unanswered_tracks, (
        total,
        traffic.counts,
        traffic.unanswered_tracks,
    )


def views_settled(site: Site, traffic: Traffic, seconds: float = 30) -> None:
    """Every answered view's count is stored (exactly: counts are applied once)."""
    deadline = time.monotonic() + seconds
    while counted(site, "page:view") < traffic.views:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert counted(site, "page:view") == traffic.views


@pytest.fixture
def site(tmp_path):
    server = EmbeddedServer(persist=True)  # saved on a clean stop, empty after a kill
    server.start()
    made = Site(server, tmp_path, f"fault{os.getpid()}{secrets.token_hex(3)}")
    yield made
    made.stop()
    server.close()


def only_2xx(traffic: Traffic) -> None:
    assert set(traffic.statuses) <= {200, 202}, traffic.statuses
    assert traffic.no_answer == 0
    assert traffic.views > 0 and traffic.accepted


def test_redis_hung_then_resumed(site):
    site.start()
    with Traffic(site) as traffic:
        time.sleep(1)
        site.server.process.send_signal(signal.SIGSTOP)
        time.sleep(2)
        site.server.process.send_signal(signal.SIGCONT)
        time.sleep(1)
    settled(site, traffic)
    only_2xx(traffic)
    counted_once(site, traffic)
    views_settled(site, traffic)


def test_redis_full_then_raised(site):
    site.start()
    admin = redis.Redis.from_url(site.server.url)
    with Traffic(site) as traffic:
        time.sleep(1)
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", "1")
        time.sleep(2)
        admin.config_set("maxmemory", "0")
        time.sleep(1)
    settled(site, traffic)
    only_2xx(traffic)
    counted_once(site, traffic)
    views_settled(site, traffic)


def test_redis_killed_and_restarted_empty(site):
    site.start()
    with Traffic(site) as traffic:
        time.sleep(1)
        site.server.process.kill()  # SIGKILL: what it held is gone with it
        site.server.process.wait()
        site.server.process = None
        killed_at = len(traffic.accepted)
        time.sleep(2)
        site.server.start()  # empty: no persistence
        time.sleep(1)
    # Everything accepted since the kill was spooled or written after it.
    later = traffic.since(killed_at)
    settled(site, traffic, later)
    only_2xx(traffic)
    assert counted(site) >= len(later)


def test_workers_stopped_during_an_outage_leave_nothing_behind(site):
    site.start()
    with Traffic(site) as traffic:
        time.sleep(1)
        site.server.stop()
        time.sleep(2)
    only_2xx(traffic)
    site.stop()  # SIGTERM while Redis is down: the workers keep their spools
    spools = list((Path(site.env["EXAMPLE_SPOOL_DIR"])).glob("*/spool-*.sqlite3"))
    assert spools, "the workers' spools are gone"
    site.server.start()
    site.start()  # new workers claim the dead ones' spools
    settled(site, traffic)
    counted_once(site, traffic)
    views_settled(site, traffic)


def test_workers_recycled_during_an_outage(site):
    site.start("--max-requests", "40", "--max-requests-jitter", "10")
    with Traffic(site) as traffic:
        time.sleep(1)
        site.server.stop()
        time.sleep(3)  # several workers exit and are replaced meanwhile
        site.server.start()
        time.sleep(1)
    settled(site, traffic)
    only_2xx(traffic)
    counted_once(site, traffic)
    views_settled(site, traffic)
