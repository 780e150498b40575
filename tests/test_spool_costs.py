"""What spooling costs and what it keeps: an append costs the same at any size,
nothing appended during a replay is left behind, and a flood of public
tracking rows never pushes out the writes of the server's own code."""

from __future__ import annotations

import logging
import os
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
    buffer = delivery.get_buffer()
    buffer.add([delivery.mark("visit", 5)], at=1764000000.0)  # first tried long ago
    stamps = [row.at for row in buffer._spool.oldest(10)]
    first = Path(delivery.get_buffer().spool_stats()["path"])
    for suffix in ("", "-wal", "-shm"):  # a cleaner of old files
        Path(f"{first}{suffix}").unlink()
    assert delivery.flush_buffer() is False  # Redis still down; the rows move
    second = Path(delivery.get_buffer().spool_stats()["path"])
    assert second != first and second.exists() and not first.exists()
    assert [row.at for row in buffer._spool.oldest(10)] == stamps  # with their times
    assert [r.getMessage() for r in caplog.records if "deleted while" in r.getMessage()] == [
        f"porpoise: the spool file {first} was deleted while in use;"
        f" its 6 writes moved to {second.name}"
    ]
    private_server.start()
    assert delivery.flush_buffer() is True
    assert sorted(pp.event("visit").day()) == list(range(6))


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


def test_the_memory_buffer_keeps_its_bound_exactly_and_says_what_it_dropped(porpoise, caplog):
    from porpoise_django.delivery.buffer import ReplayBuffer

    porpoise()
    memory = ReplayBuffer(3)
    before = time.time()
    memory.add([delivery.mark("a", i) for i in range(3)])  # exactly full
    assert len(memory) == 3 and memory.stats.dropped == 0 and memory.stats.buffered == 3
    with caplog.at_level(logging.ERROR, logger="porpoise_django"):
        memory.add([delivery.mark("a", i) for i in range(3, 5)])
        memory.add([delivery.mark("a", 5)])
    assert [r.getMessage() for r in caplog.records] == [
        "porpoise: buffer full (3 writes): dropped the 2 oldest; 2 dropped in all",
        "porpoise: buffer full (3 writes): dropped the 1 oldest; 3 dropped in all",
    ]
    assert memory.stats.dropped == 3 and memory.stats.buffered == 6
    taken = memory.take()
    assert [w.row[1] for _, w in taken] == [3, 4, 5]
    assert all(before <= at <= time.time() for at, _ in taken)  # stamped when added
    assert memory.waiting() == 3 and len(memory) == 0  # taken, not settled
    memory.restore(taken[:1], taken=3)  # two sent, one put back
    assert memory.waiting() == 1 and len(memory) == 1
    memory.restore([(1.0, delivery.mark("a", 0))])  # not from a take: nothing settled
    assert memory.waiting() == 2 and [w.row[1] for _, w in memory.take()] == [0, 3]


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
    assert len(buffer) == 3 and buffer.memory.waiting() == 0  # counted once, in the spool
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


# -- the spool's own bounds, row by row (no server needed) ---------------------------
#: Each of these rows costs 84 bytes in the spool (52 of payload, 32 of overhead).
ROW = 84
#: A bound where a trim frees exactly its excess plus a tenth (1007 bytes) in whole rows.
TIGHT = 10_079


def _writes(ids, public=False):
    from porpoise_django.delivery.pending import PendingWrite

    return [PendingWrite("mark", ("visit", i, 1764000000.0), public=public) for i in ids]


def _one_by_one(spool, ids, public=False):
    for write in _writes(ids, public):
        spool.append([write])


def _kept(spool):
    return [(row.write.row[1], row.write.public) for row in spool.oldest(10**6)]


def _totals_match_the_file(spool):
    import sqlite3

    with sqlite3.connect(spool.path) as db:
        rows, size, public, public_size = db.execute(
            f"SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) + COUNT(*) * {ROW - 52},"
            " COALESCE(SUM(public), 0),"
            f" COALESCE(SUM(CASE WHEN public THEN LENGTH(payload) + {ROW - 52} END), 0)"
            " FROM writes"
        ).fetchone()
    stats = spool.stats()
    assert (len(spool), stats["rows"], stats["bytes"], stats["public_rows"]) == (
        rows,
        rows,
        size,
        public,
    )
    assert spool.waiting == rows
    assert spool._public_bytes == public_size  # what the public share is measured by


def test_a_full_spool_drops_exactly_the_oldest_rows_it_must(tmp_path, caplog):
    from porpoise_django.delivery.spool import Spool

    spool = Spool.open(tmp_path, target="t", max_bytes=TIGHT)
    with caplog.at_level(logging.ERROR, logger="porpoise_django"):
        _one_by_one(spool, range(1000, 1119))  # 119 rows: 9,996 bytes, under the bound
        assert spool.dropped == 0 and len(spool) == 119
        _one_by_one(spool, [1119])  # 1 byte over: 1 + 1007 bytes go, 12 rows exactly
    assert _kept(spool) == [(i, False) for i in range(1012, 1120)]
    assert spool.dropped == 12 and spool.stats()["dropped"] == 12
    _totals_match_the_file(spool)
    # Another spool full at the same moment says so too, in its own line.
    other = Spool.open(tmp_path, target="t", max_bytes=TIGHT)
    with caplog.at_level(logging.ERROR, logger="porpoise_django"):
        other.append(_writes(range(1000, 1120)))
    assert [r.getMessage() for r in caplog.records] == [
        f"porpoise: spool {full.path.name} over 10079 bytes: dropped its oldest writes (12 in all)"
        for full in (spool, other)
    ]
    spool.close()
    other.close()


def test_one_append_over_both_bounds_counts_every_row_dropped(tmp_path):
    from porpoise_django.delivery.spool import Spool

    spool = Spool.open(tmp_path, target="t", max_bytes=TIGHT)
    spool.append(_writes(range(2000, 2080)))
    # Public rows over their share, and all rows over the bound, in one append.
    spool.append(_writes(range(1000, 1070), public=True))
    kept = _kept(spool)
    assert [i for i, public in kept if not public] == list(range(2000, 2080))
    assert spool.dropped == 150 - len(kept) == 42  # 22 over the share, 20 over the bound
    _totals_match_the_file(spool)
    spool.close()
    # A few public rows, then server rows far over the bound: the public ones
    # go first, all of them, then the oldest server rows, in one append.
    spool = Spool.open(tmp_path, target="t", max_bytes=TIGHT)
    spool.append(_writes(range(1000, 1005), public=True))
    spool.append(_writes(range(2000, 2130)))
    kept = _kept(spool)
    assert kept == [(i, False) for i in range(2022, 2130)]
    assert spool.dropped == 135 - len(kept) == 27
    _totals_match_the_file(spool)
    spool.close()


def test_a_spool_exactly_at_its_bounds_drops_nothing(tmp_path):
    from porpoise_django.delivery.spool import Spool

    spool = Spool.open(tmp_path, target="t", max_bytes=120 * ROW)
    _one_by_one(spool, range(1000, 1060), public=True)  # exactly their share
    _one_by_one(spool, range(2000, 2060))  # exactly the bound
    assert spool.dropped == 0 and len(spool) == 120
    _one_by_one(spool, [2060])
    assert spool.dropped > 0 and _kept(spool)[0] == (1000 + spool.dropped, True)
    _totals_match_the_file(spool)
    spool.close()


def test_public_rows_make_room_first_and_only_within_their_share(tmp_path):
    from porpoise_django.delivery.spool import Spool

    spool = Spool.open(tmp_path, target="t", max_bytes=TIGHT)
    # Their share is 5,039 bytes: the 60th public row is 1 byte over it.
    _one_by_one(spool, range(1000, 1060), public=True)
    assert _kept(spool) == [(i, True) for i in range(1012, 1060)]
    _totals_match_the_file(spool)
    # 48 public rows (4,032 bytes) and 72 server rows: 1 byte over the bound.
    _one_by_one(spool, range(2000, 2072))
    assert _kept(spool) == [
        *[(i, True) for i in range(1024, 1060)],
        *[(i, False) for i in range(2000, 2072)],
    ]
    assert spool.dropped == 24 and spool.stats()["public_rows"] == 36
    _totals_match_the_file(spool)
    # Server rows only go once no public row is left.
    _one_by_one(spool, range(2072, 2072 + 36))
    kept = _kept(spool)
    assert all(not public for _, public in kept) and kept[0] == (2000, False)
    assert kept[-1] == (2107, False) and spool.stats()["public_rows"] == 0
    _totals_match_the_file(spool)
    _one_by_one(spool, range(2108, 2120))  # 120 server rows: 1 byte over
    assert _kept(spool)[0] == (2012, False) and spool.dropped == 72
    _totals_match_the_file(spool)
    spool.close()


def test_a_full_disk_refuses_an_append_with_sqlites_own_error_and_keeps_the_totals(tmp_path):
    from porpoise_django.delivery.spool import Spool, SpoolError

    spool = Spool.open(tmp_path, target="t", max_bytes=1 << 30)
    _one_by_one(spool, range(1000, 1010))
    pages = spool._db.execute("PRAGMA page_count").fetchone()[0]
    spool._db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full
    with pytest.raises(SpoolError, match="database or disk is full"):
        spool.append(_writes(range(2000, 4000)))
    assert len(spool) == 10 and spool.stats()["rows"] == 10
    _totals_match_the_file(spool)
    spool._db.execute("PRAGMA max_page_count = 1073741823")  # room again
    spool.append(_writes([4000]))  # no transaction left open by the failure
    assert [i for i, _ in _kept(spool)] == [*range(1000, 1010), 4000]
    _totals_match_the_file(spool)
    spool.close()


def test_refused_rows_become_dead_letters_bounded_oldest_first(tmp_path, caplog):
    from porpoise_django.delivery import deadletters
    from porpoise_django.delivery.spool import Spool

    (tmp_path / "long").mkdir()
    spool = Spool.open(tmp_path / "long", target="t", max_bytes=1 << 30)
    _one_by_one(spool, range(1000, 1003))
    spool.bury([(spool.oldest(1)[0], "X" * 5000)])
    [letter] = deadletters.letters(tmp_path / "long", "t")
    assert letter.error == "X" * 2000 and letter.row.write.row[1] == 1000  # the reason, cut
    assert len(spool) == 2 and spool.stats()["dead_letters"] == 1
    _totals_match_the_file(spool)
    spool.close()

    # A dead letter of these rows costs 91 bytes (payload, the reason "refused", overhead).
    spool = Spool.open(tmp_path, target="t", max_bytes=1 << 30, dead_max_bytes=910)
    _one_by_one(spool, range(1000, 1020))
    rows = spool.oldest(100)
    spool.bury([(rows[0], "refused")])
    assert len(spool) == 19 and spool.stats()["dead_letters"] == 1
    with caplog.at_level(logging.ERROR, logger="porpoise_django"):
        for row in rows[1:10]:
            spool.bury([(row, "refused")])
        assert spool.dead_dropped == 0 and "dead letters of" not in caplog.text  # 910 bytes fit
        spool.bury([(rows[10], "refused"), (rows[11], "refused")])
        kept = [letter.row.write.row[1] for letter in deadletters.letters(tmp_path, "t")]
        assert kept == list(range(1002, 1012))  # the newest 10
        assert spool.dead_dropped == 2
        spool.bury([(rows[12], "refused")])
    assert spool.dead_dropped == 3
    assert [r.getMessage() for r in caplog.records] == [
        f"porpoise: dead letters of {spool.path.name} over 910 bytes: dropped the {n} oldest"
        for n in (2, 1)
    ]
    assert [i for i, _ in _kept(spool)] == list(range(1013, 1020))
    _totals_match_the_file(spool)
    spool.bury([])  # nothing to do
    assert spool.stats()["dead_letters"] == 10
    spool.close()
    assert spool.path.exists()  # dead letters keep the file


def test_the_figures_of_a_damaged_spool_are_unknown_not_an_error(tmp_path):
    import sqlite3

    from porpoise_django.delivery.spool import Spool

    spool = Spool.open(tmp_path, target="t", max_bytes=1 << 20)
    _one_by_one(spool, range(1000, 1003))
    with sqlite3.connect(spool.path) as db:
        db.execute("DROP TABLE dead")
    stats = spool.stats()
    assert (stats["oldest"], stats["dead_letters"], stats["rows"]) == (None, None, 3)
    spool.close()
    assert spool.path.exists()  # unreadable: kept


def test_a_spool_that_cannot_be_read_says_why(tmp_path):
    import sqlite3

    from porpoise_django.delivery.spool import Spool, SpoolError

    spool = Spool.open(tmp_path, target="t", max_bytes=1 << 20)
    assert spool.target == "t"
    with sqlite3.connect(spool.path) as db:
        db.execute("DROP TABLE writes")
    with pytest.raises(SpoolError, match=f"^spool {spool.path.name}: no such table: writes$"):
        spool.oldest(10)
    spool.close()


def test_a_spool_that_cannot_be_opened_leaves_no_file_and_no_descriptor(tmp_path, monkeypatch):
    import os
    import sqlite3

    from porpoise_django.delivery import spool as spools

    def broken(path):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(spools, "connect", broken)
    descriptors = len(os.listdir("/proc/self/fd"))
    with pytest.raises(spools.SpoolError, match="disk I/O error"):
        spools.Spool.open(tmp_path, target="t")
    assert list(tmp_path.iterdir()) == []  # no empty spool for a replay to claim later
    assert len(os.listdir("/proc/self/fd")) == descriptors


def test_a_spool_is_never_opened_through_a_file_or_link_planted_at_its_name(tmp_path, monkeypatch):
    import socket

    from porpoise_django.delivery import spool as spools

    monkeypatch.setattr(spools.time, "time_ns", lambda: 42)
    name = f"spool-{socket.gethostname()}-{os.getpid()}-42.sqlite3"
    elsewhere = tmp_path / "elsewhere"
    (tmp_path / name).symlink_to(elsewhere)
    with pytest.raises(FileExistsError):
        spools.Spool.open(tmp_path, target="t")
    assert not elsewhere.exists() and (tmp_path / name).is_symlink()


def test_a_link_is_never_claimed(tmp_path):
    import os

    from porpoise_django.delivery import spool as spools

    gone = spools.Spool.open(tmp_path, target="t", max_bytes=1 << 20)
    gone.append(_writes([1000]))
    gone.close()
    link = tmp_path / "spool-link.sqlite3"
    link.symlink_to(gone.path)
    assert spools._claim(link) is None
    fd = spools._claim(gone.path)
    assert fd is not None
    os.close(fd)


def test_a_spooled_write_comes_back_as_it_was_with_its_time_and_cost(tmp_path):
    from porpoise_django.delivery.pending import PendingWrite
    from porpoise_django.delivery.spool import Spool

    writes = [
        PendingWrite("mark", ("visit", 7, 1764000000.5), ("day", "week"), True),
        PendingWrite("count", ("orders", None, 2.5, 1764000001.0), None, False, "tok-1"),
        PendingWrite("unmark", ("visit", 8, 1764000002.0), None, False, None, True),
        PendingWrite("mark", ("visit", 9, 1764000003.0, {"source": "ads", "plan": None})),
    ]
    spool = Spool.open(tmp_path, target="t", max_bytes=1 << 20)
    spool.append(writes[:2], at=1764000100.0)
    spool.append(writes[2:])
    rows = spool.oldest(10)
    assert len(rows) == 4
    assert [row.write for row in rows] == writes
    assert [row.at for row in rows[:2]] == [1764000100.0] * 2
    assert abs(rows[2].at - time.time()) < 60
    assert [row.size for row in rows] == [
        len(spool_payload(spool, row.id)) + ROW - 52 for row in rows
    ]
    assert spool.stats()["oldest"] == 1764000100.0 and spool.stats()["public_rows"] == 1
    assert spool.append([]) == 0 and len(spool) == 4
    _totals_match_the_file(spool)
    spool.close()


def spool_payload(spool, rowid):
    import sqlite3

    with sqlite3.connect(spool.path) as db:
        return db.execute("SELECT payload FROM writes WHERE id = ?", (rowid,)).fetchone()[0]


def test_rows_whose_delete_failed_are_never_sent_again_and_go_at_the_next_chance(tmp_path):
    import sqlite3

    from porpoise_django.delivery.spool import Spool, SpoolError

    spool = Spool.open(tmp_path, target="t", max_bytes=1 << 20)
    _one_by_one(spool, range(1000, 1010))
    with sqlite3.connect(spool.path) as db:  # the next DELETEs fail (as on a full disk)
        db.execute(
            "CREATE TRIGGER fail BEFORE DELETE ON writes BEGIN SELECT RAISE(ABORT, 'I/O'); END"
        )
    sent = spool.oldest(3)
    with pytest.raises(SpoolError, match="3 rows Redis confirmed stay in the file"):
        spool.delete(sent)
    # Never handed out again, and the next rows still come by the limit asked.
    assert [row.write.row[1] for row in spool.oldest(3)] == [1003, 1004, 1005]
    assert spool.waiting == 7 and len(spool) == 10
    with pytest.raises(SpoolError, match="I/O"):
        spool.retry_deletes()
    with sqlite3.connect(spool.path) as db:
        db.execute("DROP TRIGGER fail")
    spool.retry_deletes()
    assert len(spool) == 7 and spool.waiting == 7
    _totals_match_the_file(spool)
    spool.retry_deletes()  # nothing left to retry
    spool.delete(spool.oldest(100))
    assert len(spool) == 0 and spool.oldest(100) == []
    _totals_match_the_file(spool)
    spool.append(_writes(range(3000, 4234)))  # one replay batch confirmed at once
    spool.append(_writes(range(5000, 5300), public=True))
    spool.delete(spool.oldest(1200))
    assert _kept(spool)[0] == (4200, False) and len(spool) == 34 + 300
    assert spool.stats()["public_rows"] == 300
    spool.delete([row for row in spool.oldest(5000) if row.write.public][:100])
    assert spool.stats()["public_rows"] == 200
    _totals_match_the_file(spool)
    spool.delete(spool.oldest(5000))
    assert len(spool) == 0 and spool.oldest(5000) == []
    _totals_match_the_file(spool)
    spool.close()
    assert not spool.path.exists() and not spool.detached()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(spool.path.name)]


def test_only_spools_of_gone_processes_are_claimed_oldest_first_each_once(tmp_path, caplog):
    import os

    from porpoise_django.delivery.spool import Spool, orphans, spool_files

    assert spool_files(tmp_path / "missing") == []
    left = []
    for n in range(3):  # three processes that are gone, each leaving a row
        spool = Spool.open(tmp_path, target="t", max_bytes=1 << 20)
        spool.append(_writes([1000 + n]))
        spool.close()
        os.utime(spool.path, (1764000000 + 10 * (3 - n),) * 2)  # the last one is the oldest
        left.append(spool.path)
    live = Spool.open(tmp_path, target="t", max_bytes=1 << 20)  # a live process's
    live.append(_writes([2000]))
    (tmp_path / "notes.txt").write_text("not a spool")
    (tmp_path / "spool-link.sqlite3").symlink_to(left[0])
    (tmp_path / "spool-garbage.sqlite3").write_bytes(b"\x00not sqlite" * 100)
    os.utime(tmp_path / "spool-garbage.sqlite3", (1764000005,) * 2)  # the oldest of all
    opened = Spool.open(tmp_path, target="t", max_bytes=1 << 20)
    opened.append(_writes([3000]))
    opened.close()
    os.chmod(opened.path, 0o666)
    files = [path for path in spool_files(tmp_path) if not path.is_symlink()]
    assert files[:4] == [tmp_path / "spool-garbage.sqlite3", *reversed(left)]
    assert len(files) == 6  # the live one and the one others may write: the newest

    os.chmod(left[0], 0o645)  # readable by others, even executable: not writable, so taken
    seen = []
    with caplog.at_level(logging.ERROR, logger="porpoise_django"):
        for spool in orphans(tmp_path, target="t", skip=left[1]):
            # Claimed: nobody else gets it meanwhile.
            others = list(orphans(tmp_path, target="t"))
            assert spool.path not in [other.path for other in others]
            for other in others:
                other.close()
            seen.append((spool.path, [i for i, _ in _kept(spool)]))
            spool.close()
    assert seen == [(left[2], [1002]), (left[0], [1000])]
    assert {r.getMessage() for r in caplog.records} == {
        "porpoise: spool spool-garbage.sqlite3 unreadable (spool spool-garbage.sqlite3:"
        " file is not a database); left in place",
        f"porpoise: spool {tmp_path / 'spool-link.sqlite3'} not replayed: not a regular file",
        f"porpoise: spool {opened.path} not replayed: writable by others (mode 666)",
    }
    assert (tmp_path / "spool-garbage.sqlite3").exists() and opened.path.exists()
    assert live.path.exists() and not live.detached()
    live.close()


def test_every_spool_file_is_listed_even_beside_dangling_links(tmp_path):
    from porpoise_django.delivery.spool import spool_files

    for n in range(10):
        (tmp_path / f"spool-real-{n}.sqlite3").write_bytes(b"")
        (tmp_path / f"spool-dangling-{n}.sqlite3").symlink_to(tmp_path / f"nothing-{n}")
    assert sorted(path.name for path in spool_files(tmp_path)) == [
        f"spool-real-{n}.sqlite3" for n in range(10)
    ]


def test_a_spool_gone_before_it_is_claimed_is_skipped_silently(tmp_path, monkeypatch, caplog):
    from porpoise_django.delivery import spool as spools

    assert spools.owned_file(tmp_path / "spool-gone.sqlite3") == "gone"
    # Listed, then drained and removed by another claimer before we look at it.
    monkeypatch.setattr(spools, "spool_files", lambda folder: [tmp_path / "spool-gone.sqlite3"])
    with caplog.at_level(logging.ERROR, logger="porpoise_django"):
        assert list(spools.orphans(tmp_path, target="t")) == []
    assert caplog.text == ""


def test_a_bury_that_fails_leaves_the_rows_waiting(tmp_path):
    import sqlite3

    from porpoise_django.delivery.spool import Spool, SpoolError

    spool = Spool.open(tmp_path, target="t", max_bytes=1 << 20)
    _one_by_one(spool, range(1000, 1005))
    with sqlite3.connect(spool.path) as db:
        db.execute(
            "CREATE TRIGGER fail BEFORE INSERT ON dead BEGIN SELECT RAISE(ABORT, 'full'); END"
        )
    with pytest.raises(SpoolError, match=f"^spool {spool.path.name}: full$"):
        spool.bury([(row, "refused") for row in spool.oldest(2)])
    assert [i for i, _ in _kept(spool)] == list(range(1000, 1005))
    assert spool.stats()["dead_letters"] == 0
    _totals_match_the_file(spool)
    spool.append(_writes([1005]))  # no transaction left open
    assert len(spool) == 6
    spool.close()
