"""Nothing accepted is lost: writes spooled during an outage survive the process
(SIGKILL or a normal exit) and are replayed by another one, exactly once."""

from __future__ import annotations

import io
import json
import select
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from porpoise_django import delivery
from porpoise_django.delivery import replay
from tests.conftest import wait_until

pytestmark = [pytest.mark.django_db, pytest.mark.processes]
ROOT = Path(__file__).resolve().parent.parent

WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    sys.path.insert(0, {root!r})
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    import django
    from django.conf import settings
    django.setup()
    settings.PORPOISE = json.loads({options!r})
    from porpoise_django import delivery, services
    rows = []
    for i in range({n}):
        rows.append(delivery.mark("order:paid", i))
        rows.append(delivery.count("revenue", i % 3, 5))
    for start in range(0, len(rows), 50):
        delivery.record(rows[start:start + 50])
    print("accepted", len(rows), flush=True)
    if {hang}:
        time.sleep(60)
    """
)


#: A worker that takes commands on stdin: "mark A:B" records marks A..B-1 and a
#: count of 1 per mark (one write each), "limit N" caps the size of the files
#: it may write (a disk that is full), "traffic S" records a mark every 20 ms
#: for S seconds, "exit" runs the exit hook.
LOOP_WORKER = textwrap.dedent(
    """
    import json, os, resource, signal, sys, time
    sys.path.insert(0, {root!r})
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    import django
    from django.conf import settings
    django.setup()
    settings.PORPOISE = json.loads({options!r})
    from porpoise_django import delivery
    from porpoise_django.delivery import replay
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a full disk: writes fail, no signal
    for line in sys.stdin:
        command, value = line.split()
        if command == "mark":
            start, stop = map(int, value.split(":"))
            for i in range(start, stop):
                delivery.record([delivery.mark("order:paid", i), delivery.count("revenue", by=1)])
        elif command == "limit":
            resource.setrlimit(resource.RLIMIT_FSIZE, (int(value), int(value)))
        elif command == "traffic":
            deadline = time.monotonic() + float(value)
            while time.monotonic() < deadline:
                delivery.record([delivery.mark("tick", 1)])
                time.sleep(0.02)
        elif command == "exit":
            replay.shutdown()
            print("bye", flush=True)
            break
        print("done", len(delivery.get_buffer()), flush=True)
    """
)


class Worker:
    """A :data:`LOOP_WORKER` process."""

    def __init__(self, options: dict) -> None:
        code = LOOP_WORKER.format(root=str(ROOT), options=json.dumps(options))
        self.process = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def send(self, command: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], 60)
        if not ready:
            self.process.kill()
            raise AssertionError(f"worker hung on {command!r}: {self.process.communicate()[1]}")
        answer = self.process.stdout.readline().strip()
        if not answer:
            raise AssertionError(f"worker died: {self.process.communicate()[1]}")
        return answer

    def finish(self) -> str:
        """Its log, once it exited."""
        return self.process.communicate(timeout=60)[1]


def _files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*/spool-*.sqlite3"))


def _options(key_prefix: str, url: str, spool: Path) -> dict:
    """PORPOISE of a worker and of this test: same Redis, prefix and spool folder;
    a long retry pause, so only the replay under test sends the spooled writes."""
    return {
        "KEY_PREFIX": key_prefix,
        "REDIS_URL": url,
        "WRITE_MODE": "sync",
        "SPOOL_DIR": str(spool),
        "RETRY_SECONDS": 60,
        "SOCKET_TIMEOUT": 0.3,
    }


def _worker(options: dict, n: int, hang: bool) -> subprocess.Popen:
    code = WORKER.format(root=str(ROOT), options=json.dumps(options), n=n, hang=hang)
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.parametrize("ending", ["sigkill", "exit"])
def test_writes_spooled_in_an_outage_outlive_their_process(
    porpoise, private_server, tmp_path, key_prefix, ending
):
    spool = tmp_path / "spool"
    options = _options(key_prefix, private_server.url, spool)
    private_server.stop()
    worker = _worker(options, 200, hang=ending == "sigkill")
    line = worker.stdout.readline()
    assert line.strip() == "accepted 400", worker.stderr.read()
    if ending == "sigkill":
        worker.send_signal(signal.SIGKILL)
    worker.wait(30)
    files = sorted(p.name for p in spool.glob("*/spool-*.sqlite3"))
    assert len(files) == 1  # the dead process's spool, left for others

    private_server.start()
    pp = porpoise(**{k: v for k, v in options.items() if k != "KEY_PREFIX"})
    from django.core.management import call_command

    call_command("porpoise_replay", stdout=io.StringIO())
    assert sorted(pp.event("order:paid").day()) == list(range(200))
    assert pp.counter("revenue").total(pp.period("day")) == 400 * 5 / 2
    assert pp.counter("revenue").get(pp.period("day")) == {"0": 335, "1": 335, "2": 330}
    # Replayed once: the dead one's file is gone (ours stays open while we
    # live), and a second replay adds nothing.
    ours = delivery.get_buffer().spool_stats()["path"]
    assert [str(p) for p in spool.glob("*/spool-*.sqlite3")] == [ours]
    call_command("porpoise_replay", stdout=io.StringIO())
    assert pp.counter("revenue").total(pp.period("day")) == 1000


def test_a_live_processs_spool_is_not_claimed(porpoise, private_server, tmp_path, key_prefix):
    spool = tmp_path / "spool"
    options = _options(key_prefix, private_server.url, spool)
    private_server.stop()
    worker = _worker(options, 10, hang=True)
    try:
        assert worker.stdout.readline().strip() == "accepted 20"
        private_server.start()
        pp = porpoise(**{k: v for k, v in options.items() if k != "KEY_PREFIX"})
        assert delivery.flush_buffer()
        assert pp.event_names() == []  # its owner is alive and holds the lock
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    assert delivery.flush_buffer()  # now it is an orphan
    assert sorted(pp.event("order:paid").day()) == list(range(10))


def test_replay_needs_no_traffic_and_backs_off(porpoise, private_server, caplog):
    pp = porpoise(REDIS_URL=private_server.url, RETRY_SECONDS=0.1, SOCKET_TIMEOUT=0.3)
    private_server.stop()
    assert delivery.record([delivery.mark("seen", 1)]) is False
    time.sleep(2.0)  # the timer keeps trying, no request comes
    # Doubling from 0.1 s: tries at about 0, 0.2, 0.6 and 1.4 s (20 without backoff).
    attempts = delivery.get_buffer().stats.attempts
    assert 3 <= attempts <= 6, attempts
    private_server.start()
    wait_until(lambda: len(delivery.get_buffer()) == 0)
    assert list(pp.event("seen").day()) == [1]


def test_stats_show_the_spool(porpoise, private_server):
    import io

    from django.core.management import call_command

    porpoise(REDIS_URL=private_server.url, RETRY_SECONDS=60, SOCKET_TIMEOUT=0.3)
    private_server.stop()
    delivery.record([delivery.mark("seen", 1), delivery.mark("seen", 2)])
    stats = delivery.get_buffer().spool_stats()
    assert stats["rows"] == 2 and stats["oldest"] is not None
    private_server.start()
    out = io.StringIO()
    call_command("porpoise_stats", stdout=out)
    assert "spool: 2 write(s)" in out.getvalue()


def test_the_replay_thread_survives_an_unexpected_error(porpoise, private_server, monkeypatch):
    pp = porpoise(REDIS_URL=private_server.url, RETRY_SECONDS=0.05, SOCKET_TIMEOUT=0.3)
    private_server.stop()
    assert delivery.record([delivery.mark("seen", 1)]) is False
    calls = []
    real = replay.flush_buffer

    def broken(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a spool closed under the replayer")
        return real(**kwargs)

    monkeypatch.setattr(replay, "flush_buffer", broken)
    private_server.start()
    wait_until(lambda: len(delivery.get_buffer()) == 0)
    assert len(calls) >= 2 and list(pp.event("seen").day()) == [1]


def test_deleting_lock_files_never_lets_a_live_spool_be_claimed(
    porpoise, private_server, tmp_path, key_prefix
):
    spool = tmp_path / "spool"
    options = _options(key_prefix, private_server.url, spool)
    private_server.stop()
    worker = Worker(options)
    try:
        assert worker.send("mark 0:10") == "done 20"
        # A cleaner of old files: every lock file goes (the spools stay).
        for path in spool.rglob("*"):
            if path.is_file() and not path.name.endswith((".sqlite3", "-wal", "-shm")):
                path.unlink()
        private_server.start()
        pp = porpoise(**{k: v for k, v in options.items() if k != "KEY_PREFIX"})
        call_command("porpoise_replay", stdout=io.StringIO())
        assert pp.event_names() == []  # its owner lives: its file is its own
        assert worker.send("mark 10:20") == "done 40"  # still paused: spooled
    finally:
        worker.process.kill()
        worker.finish()
    call_command("porpoise_replay", stdout=io.StringIO())
    assert sorted(pp.event("order:paid").day()) == list(range(20))
    assert pp.counter("revenue").total(pp.period("day")) == 20


def test_a_full_disk_after_a_replay_neither_loops_nor_counts_twice(
    porpoise, private_server, tmp_path, key_prefix
):
    spool = tmp_path / "spool"
    options = {**_options(key_prefix, private_server.url, spool), "RETRY_SECONDS": 0.2}
    options["IDEMPOTENCY_TTL"] = 2
    private_server.stop()
    worker = Worker(options)
    try:
        assert worker.send("mark 0:100") == "done 200"
        [path] = _files(spool)
        wal = Path(f"{path}-wal")
        # The disk is full: the DELETE after the replay cannot be written.
        assert worker.send(f"limit {max(wal.stat().st_size, path.stat().st_size)}")
        private_server.start()
        # Requests keep coming, each of them pokes the replay; the tokens lapse.
        assert worker.send("traffic 3").startswith("done")
        pp = porpoise(**{k: v for k, v in options.items() if k != "KEY_PREFIX"})
        assert pp.counter("revenue").total(pp.period("day")) == 100
        assert sorted(pp.event("order:paid").day()) == list(range(100))
        assert worker.send("exit 0") == "bye"
    finally:
        worker.process.kill()
    log = worker.finish()
    assert "disk I/O error" in log or "disk is full" in log  # what SQLite said
    assert "cannot rollback" not in log
    assert log.count("Traceback") <= 1
    assert len([line for line in log.splitlines() if "porpoise:" in line]) <= 6
    # Another process claims the file: its counts are too old to send again.
    call_command("porpoise_replay", stdout=io.StringIO())
    assert pp.counter("revenue").total(pp.period("day")) == 100
    assert sorted(pp.event("order:paid").day()) == list(range(100))


def test_the_exit_log_counts_only_what_is_really_spooled(
    porpoise, private_server, tmp_path, key_prefix
):
    spool = tmp_path / "spool"
    options = _options(key_prefix, private_server.url, spool)
    private_server.stop()
    worker = Worker(options)
    try:
        assert worker.send("mark 0:15") == "done 30"
        [path] = _files(spool)
        wal = Path(f"{path}-wal")
        assert worker.send(f"limit {max(wal.stat().st_size, path.stat().st_size)}")
        assert worker.send("mark 15:30") == "done 60"  # 30 of them only in memory
        assert worker.send("exit 0") == "bye"
    finally:
        worker.process.kill()
    log = worker.finish()
    assert "30 writes stay spooled at exit" in log
    assert "30 writes held in memory are lost at exit" in log
    [path] = _files(spool)
    db = sqlite3.connect(path)
    assert db.execute("SELECT COUNT(*) FROM writes").fetchone()[0] == 30
    db.close()
