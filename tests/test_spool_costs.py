"""What spooling costs and what it keeps: an append costs the same at any size,
nothing appended during a replay is left behind, and a flood of public
tracking rows never pushes out the writes of the server's own code."""

from __future__ import annotations

import time

import pytest

from porpoise_django import delivery
from porpoise_django.delivery import replay
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db


def _down(server, **extra):
    return {"REDIS_URL": server.url, "RETRY_SECONDS": 60, "SOCKET_TIMEOUT": 0.3, **extra}


def test_an_append_never_scans_the_spool(porpoise, private_server):
    porpoise(**_down(private_server, SPOOL_MAX_BYTES=2**30))
    private_server.stop()
    buffer = delivery.get_buffer()
    rows = [delivery.mark("visit", i) for i in range(1000)]
    for _ in range(100):  # 100,000 rows
        buffer.add(rows)
    statements: list[str] = []
    spool = buffer._spool
    spool._db.set_trace_callback(statements.append)
    started = time.perf_counter()
    for i in range(20):
        buffer.add([delivery.mark("visit", i)])
    per_append = (time.perf_counter() - started) / 20
    spool._db.set_trace_callback(None)
    scans = [s for s in statements if "SUM(" in s.upper() or "COUNT(" in s.upper()]
    assert scans == [] and statements  # running totals only
    assert per_append < 0.02, f"{per_append * 1000:.1f} ms per append at 100k rows"
    assert len(buffer) == 100_020 and buffer.spool_stats()["rows"] == 100_020


def test_a_write_spooled_while_a_replay_ends_is_not_left_behind(porpoise, private_server):
    pp = porpoise(**_down(private_server))
    private_server.stop()
    assert delivery.record([delivery.mark("visit", 1)]) is False
    # The replay thread's first try (at its start) is over: it sleeps a minute now.
    wait_until(lambda: delivery.get_buffer().stats.attempts >= 1)
    assert delivery.flush_buffer() is False
    private_server.start()
    buffer = delivery.get_buffer()
    spool = buffer._spool
    real = spool.oldest
    late = delivery.mark("visit", 2)
    landed = []

    def oldest(limit):
        found = real(limit)
        if not found and not landed:
            # Another thread spools a write just as the replay finds the spool empty.
            landed.append(1)
            buffer.add([late])
        return found

    spool.oldest = oldest
    assert delivery.flush_buffer() is True
    assert landed and buffer.backlog  # still known to be waiting
    replay.shutdown()  # the exit flush sends it
    assert sorted(pp.event("visit").day()) == [1, 2]


def test_a_flood_of_public_rows_never_evicts_the_servers_writes(porpoise, private_server):
    pp = porpoise(**_down(private_server, SPOOL_MAX_BYTES=200_000))
    private_server.stop()
    server_rows = [delivery.mark("purchase", i) for i in range(100)]
    assert delivery.record(server_rows) is False
    for start in range(0, 40_000, 1000):  # 40 track/ requests of 1000 rows from one token
        flood = [delivery.mark("page:viewed", start + i, public=True) for i in range(1000)]
        delivery.record(flood)
    stats = delivery.get_buffer().spool_stats()
    assert stats["bytes"] <= 200_000
    assert stats["dropped"] > 30_000  # the flood made room for itself only
    # Server writes made during the flood keep their place too.
    assert delivery.record([delivery.mark("purchase", 100)]) is False
    for start in range(0, 5000, 1000):
        late = [delivery.mark("page:viewed", 40_000 + start + i, public=True) for i in range(1000)]
        delivery.record(late)
    private_server.start()
    assert delivery.flush_buffer() is True
    assert sorted(pp.event("purchase").day()) == list(range(101))
    # The public rows kept are the newest ones.
    kept = sorted(pp.event("page:viewed").day())
    assert kept[-1] == 44_999 and kept[0] > 30_000


def test_public_rows_in_memory_are_dropped_before_the_servers(porpoise, settings):
    from porpoise_django.delivery.buffer import ReplayBuffer

    porpoise()
    memory = ReplayBuffer(100)
    memory.add([delivery.mark("purchase", i) for i in range(10)])
    memory.add([delivery.mark("page:viewed", i, public=True) for i in range(500)])
    memory.add([delivery.mark("purchase", 10)])
    kept = [write for _, write in memory.take()]
    purchases = [w.row[1] for w in kept if w.row[0] == "purchase"]
    views = [w.row[1] for w in kept if w.row[0] == "page:viewed"]
    assert purchases == list(range(11))
    assert len(views) == 50 and views == list(range(450, 500))  # the newest half
    assert memory.stats.dropped == 450


def test_the_writer_queue_is_bounded_and_drops_nothing(porpoise):
    import threading

    from porpoise_django.delivery.writer import BackgroundWriter

    porpoise()
    gate = threading.Event()
    recorded: list[int] = []
    threads = []

    def record(batch):
        if threading.current_thread().name == "porpoise-writer":
            gate.wait(10)  # the writer is stuck behind a slow Redis, or disk
        recorded.extend(w.row[1] for w in batch)
        threads.append(threading.current_thread().name)
        return True

    writer = BackgroundWriter(record, max_batch=10, linger=0, max_queue=100)
    for start in range(0, 1000, 50):
        writer.submit([delivery.mark("page:viewed", start + i, public=True) for i in range(50)])
        assert writer.pending() <= 100
    assert writer.overflowed >= 800  # written by the submitting thread itself
    gate.set()
    assert writer.flush(10)
    assert sorted(recorded) == list(range(1000))
    assert "MainThread" in threads


def test_a_spool_file_deleted_while_in_use_is_written_again(porpoise, private_server, caplog):
    from pathlib import Path

    pp = porpoise(**_down(private_server))
    private_server.stop()
    assert delivery.record([delivery.mark("visit", i) for i in range(5)]) is False
    first = Path(delivery.get_buffer().spool_stats()["path"])
    for suffix in ("", "-wal", "-shm"):  # a cleaner of old files
        Path(f"{first}{suffix}").unlink()
    assert delivery.flush_buffer() is False  # Redis still down; the rows move
    second = Path(delivery.get_buffer().spool_stats()["path"])
    assert second != first and second.exists()
    assert "was deleted while in use; its 5 writes moved" in caplog.text
    private_server.start()
    assert delivery.flush_buffer() is True
    assert sorted(pp.event("visit").day()) == list(range(5))


def test_writes_restored_after_a_failed_replay_keep_their_place(porpoise, caplog):
    from porpoise_django.delivery.buffer import ReplayBuffer

    porpoise()
    memory = ReplayBuffer(6)
    old = [delivery.mark("a", i) for i in range(3)] + [delivery.mark("b", 0, public=True)]
    memory.add(old, at=1.0)
    taken = memory.take()
    assert len(memory) == 0 and [w for _, w in taken] == old
    memory.add([delivery.mark("a", 9), delivery.mark("b", 9, public=True)], at=2.0)
    memory.restore(taken)  # ahead of the newer ones
    again = memory.take()
    assert [w.row[:2] for _, w in again] == [
        ("a", 0),
        ("a", 1),
        ("a", 2),
        ("a", 9),
        ("b", 0),
        ("b", 9),
    ]
    assert [at for at, _ in again] == [1.0, 1.0, 1.0, 2.0, 1.0, 2.0]
    memory.restore(again)
    memory.add([delivery.mark("a", 10)])  # one over: the oldest public goes
    memory.restore([*memory.take(), (3.0, delivery.mark("b", 11, public=True))])
    assert [w.row[:2] for _, w in memory.take()] == [
        ("a", 0),
        ("a", 1),
        ("a", 2),
        ("a", 9),
        ("a", 10),
        ("b", 11),
    ]
    assert memory.stats.dropped == 2
    assert "dropped the 1 oldest; 2 dropped in all" in caplog.text  # a restore says so too


def test_writes_in_memory_survive_a_failed_replay(porpoise, private_server):
    # No spool (its folder refused): the outage writes wait in memory, and a
    # replay that fails keeps them all.
    from pathlib import Path

    porpoise(**_down(private_server))
    Path(delivery.spool_dir()).mkdir(parents=True, exist_ok=True)
    Path(delivery.spool_dir()).chmod(0o777)
    pp = porpoise(**_down(private_server, RETRY_SECONDS=1))
    private_server.stop()
    assert delivery.record([delivery.mark("visit", i) for i in range(3)]) is False
    assert delivery.get_buffer().spool_stats()["path"] is None
    assert delivery.flush_buffer() is False
    assert delivery.flush_buffer() is False  # (waits for the timer's replay, if any)
    assert delivery.get_buffer().spool_stats()["memory"] == 3
    private_server.start()
    assert delivery.flush_buffer() is True
    assert sorted(pp.event("visit").day()) == [0, 1, 2] and len(delivery.get_buffer()) == 0
    assert delivery.get_buffer().stats.replayed == 3


def test_at_exit_what_waits_in_memory_moves_to_the_spool(porpoise, tmp_path, caplog):
    from porpoise_django.delivery.buffer import DurableBuffer

    porpoise()
    folder = tmp_path / "spool"
    folder.mkdir(mode=0o700)
    buffer = DurableBuffer(str(folder), target="t", max_bytes=10**6, memory_size=10)
    # Written to memory while the spool failed (a full disk, since freed).
    buffer.memory.add([delivery.mark("a", 1), delivery.mark("a", 2)], at=100.0)
    buffer.memory.add([delivery.mark("a", 3)], at=200.0)
    path = buffer.spool_stats()["path"]
    assert buffer.spill() == 0
    assert len(buffer.memory) == 0 and buffer.spooled == 3
    assert buffer.spool_stats()["path"] == path  # into its own file
    rows = buffer._spool.oldest(10)
    assert [(r.write.row[1], r.at) for r in rows] == [(1, 100.0), (2, 100.0), (3, 200.0)]
    assert buffer.spill() == 0  # nothing left
    buffer.close()
    # Closed (settings changed), then exit: a new file takes them.
    buffer.memory.add([delivery.mark("a", 5)])
    assert buffer.spill() == 0 and buffer.spooled == 1
    assert buffer.spool_stats()["path"] != path
    buffer.close()
    # The folder gone: they stay in memory, and the error says why.
    import shutil

    shutil.rmtree(folder)
    buffer.memory.add([delivery.mark("a", 6)])
    assert buffer.spill() == 1 and "No such file or directory" in buffer.stats.spool_error
    folder.mkdir(mode=0o700)
    # No spool at all (its folder refused): what is in memory stays, and is counted.
    refused = DurableBuffer(
        str(folder), target="t", max_bytes=10**6, memory_size=10, problem="refused"
    )
    refused.memory.add([delivery.mark("a", 4)])
    assert refused.spill() == 1 and len(refused.memory) == 1


def test_the_writer_sends_a_full_batch_at_once_and_lingers_otherwise(porpoise, caplog):
    import threading

    from porpoise_django.delivery.writer import BackgroundWriter

    porpoise()
    sent: list[list] = []
    arrived = threading.Event()

    def record(batch):
        sent.append(batch)
        arrived.set()
        return True

    writer = BackgroundWriter(record, max_batch=10, linger=3.0, max_queue=100)
    started = time.monotonic()
    writer.submit([delivery.mark("a", i) for i in range(10)])  # a full batch: no lingering
    assert arrived.wait(2) and time.monotonic() - started < 2
    assert [len(b) for b in sent] == [10]
    arrived.clear()
    writer.submit([delivery.mark("a", 10)])
    assert not arrived.wait(0.5)  # one write waits for others to share its round trip
    started = time.monotonic()
    assert writer.flush(2) and time.monotonic() - started < 2  # a flush does not wait
    assert [len(b) for b in sent] == [10, 1]
    # The queue holds up to max_queue writes; one more is written by the caller.
    gate = threading.Event()
    writer = BackgroundWriter(lambda batch: gate.wait(10), max_batch=1000, linger=0, max_queue=100)
    writer.submit([delivery.mark("a", 0)])
    time.sleep(0.2)  # the writer took it and is stuck
    writer.submit([delivery.mark("a", i) for i in range(100)])
    assert writer.pending() == 100 and writer.overflowed == 0
    done = threading.Thread(target=writer.submit, args=([delivery.mark("a", 100)],))
    done.start()
    time.sleep(0.2)
    assert writer.overflowed == 1 and writer.pending() == 100
    assert "writer queue full (100 writes): 1 written by the request itself" in caplog.text
    gate.set()
    done.join(5)
    assert writer.flush(5)


def test_the_writer_thread_survives_an_error(porpoise, caplog):
    from porpoise_django.delivery.writer import BackgroundWriter

    porpoise()
    seen: list[int] = []

    def record(batch):
        seen.extend(w.row[1] for w in batch)
        if len(seen) == 1:
            raise RuntimeError("a bug in a batch")
        return True

    writer = BackgroundWriter(record, max_batch=1, linger=0)
    writer.submit([delivery.mark("a", 1)])
    assert writer.flush(5)
    writer.submit([delivery.mark("a", 2)])
    assert writer.flush(5) and seen == [1, 2]
    assert "porpoise: background writer error" in caplog.text


def test_a_flush_waits_for_the_batch_in_flight_and_no_longer_than_asked(porpoise):
    import threading

    from porpoise_django.delivery.writer import BackgroundWriter

    porpoise()
    gate = threading.Event()
    writer = BackgroundWriter(lambda batch: gate.wait(10), max_batch=10, linger=0)
    assert writer.flush(0.1)  # nothing queued, nothing in flight
    writer.submit([delivery.mark("a", 1)])
    wait_until(lambda: writer.pending() == 0)  # taken: in flight
    answers: list[bool] = []
    waiting = threading.Thread(target=lambda: answers.append(writer.flush(0.3)))
    waiting.start()
    waiting.join(3)
    assert not waiting.is_alive() and answers == [False]  # still in flight
    gate.set()
    assert writer.flush(5)


def test_the_process_writer_is_one_and_sends_by_itself(porpoise):
    from porpoise_django.delivery import writer as writers

    pp = porpoise()
    first = writers.get_writer()
    assert writers.get_writer() is first
    first.submit([delivery.mark("visit", 4)])
    wait_until(lambda: list(pp.event("visit").day()) == [4], 2)  # no flush needed
    assert first.flush(5)


def test_the_writer_thread_never_keeps_a_process_alive():
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
        from porpoise_django.delivery.writer import BackgroundWriter
        writer = BackgroundWriter(lambda batch: True, linger=0)
        writer.submit([])
        print("started", flush=True)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stdout.strip() == "started", done.stderr
