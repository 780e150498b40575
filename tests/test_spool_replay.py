"""Replay is per row: a row the engine refuses becomes a dead letter (kept,
shown, sent again on demand) and never blocks the others; only an outage
stops a replay; a count is applied at most once, even once its token lapsed."""

from __future__ import annotations

import io
import json
import logging
import threading
import time

import pytest
import redis
from django.core.management import call_command

from porpoise_django import delivery
from porpoise_django.delivery import outage
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db

HOURLY = ["hour", "day", "week", "month"]


def _outage_options(server, **extra):
    return {"REDIS_URL": server.url, "RETRY_SECONDS": 60, "SOCKET_TIMEOUT": 0.3, **extra}


def _spool_while_down(server, batches):
    """Record each batch while ``server`` is down; then close this process's spool
    as a process that is gone would leave it."""
    for batch in batches:
        assert delivery.record(batch) is False
    delivery.reset()


def test_a_refused_row_is_a_dead_letter_and_never_blocks_the_rest(porpoise, private_server, caplog):
    porpoise(**_outage_options(private_server, GRANULARITIES=HOURLY))
    private_server.stop()
    visits = [delivery.mark("visit", i) for i in range(5000)]
    hourly = delivery.mark("purchase", 7, granularities=("hour",))
    first = [*visits[:2500], hourly, *visits[2500:]]
    _spool_while_down(private_server, [first[i : i + 500] for i in range(0, len(first), 500)])
    # A second spool queued behind the first (another process, gone too).
    porpoise(**_outage_options(private_server, GRANULARITIES=HOURLY))
    _spool_while_down(private_server, [[delivery.mark("signup", i) for i in range(10)]])

    # The next deploy no longer tracks hours: the hourly mark is refused.
    private_server.start()
    pp = porpoise(**_outage_options(private_server))
    with caplog.at_level(logging.ERROR, logger="porpoise_django"):
        assert delivery.flush_buffer() is True
    assert sorted(pp.event("visit").day()) == list(range(5000))
    assert sorted(pp.event("signup").day()) == list(range(10))
    assert "dead letters" in caplog.text and "hour" in caplog.text

    out = io.StringIO()
    call_command("porpoise_stats", stdout=out)
    assert "dead letters: 1 in 1 spool file(s) (InvalidGranularity: 1)" in out.getvalue()
    report = io.StringIO()
    call_command("porpoise_stats", "--json", stdout=report)
    assert json.loads(report.getvalue())["dead_letters"]["count"] == 1
    exported = io.StringIO()
    call_command("porpoise_replay", "--export", "-", stdout=exported, stderr=io.StringIO())
    [line] = exported.getvalue().splitlines()
    letter = json.loads(line)
    assert letter["kind"] == "mark" and letter["row"][:2] == ["purchase", 7]
    assert letter["granularities"] == ["hour"] and "InvalidGranularity" in letter["error"]

    # Hours tracked again: the dead letter goes through on demand.
    pp = porpoise(**_outage_options(private_server, GRANULARITIES=HOURLY))
    out = io.StringIO()
    call_command("porpoise_replay", "--dead-letters", stdout=out)
    assert "1 sent, 0 refused again" in out.getvalue()
    assert list(pp.event("purchase").hour()) == [7]
    call_command("porpoise_replay", "--export", "-", stdout=(empty := io.StringIO()))
    assert empty.getvalue() == ""


def test_a_write_dated_beyond_max_future_seconds_does_not_block_the_spool(porpoise, private_server):
    # A worker whose clock ran ahead (or a looser deploy) spooled a mark 25 h ahead.
    porpoise(**_outage_options(private_server, MAX_FUTURE_SECONDS=2 * 86400))
    private_server.stop()
    ahead = delivery.mark("visit", 99, time.time() + 25 * 3600)
    _spool_while_down(
        private_server, [[delivery.mark("visit", 1), ahead, delivery.mark("visit", 2)]]
    )
    private_server.start()
    pp = porpoise(**_outage_options(private_server))
    assert delivery.flush_buffer() is True
    assert sorted(pp.event("visit").day()) == [1, 2]
    [letter] = list(_letters())
    assert letter["row"][:2] == ["visit", 99] and "max_future_seconds" in letter["error"]
    assert delivery.flush_buffer() is True  # nothing left to wedge


def _letters():
    out = io.StringIO()
    call_command("porpoise_replay", "--export", "-", stdout=out, stderr=io.StringIO())
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_permanent_redis_error_is_no_outage_and_never_over_counts(porpoise, private_server):
    pp = porpoise(
        REDIS_URL=private_server.url, RETRY_SECONDS=0, SOCKET_TIMEOUT=0.3, IDEMPOTENCY_TTL=2
    )
    # One key of the engine's layout holds a list: every "returns" count hits it.
    pp.client.rpush(pp.keys.counter_total("returns", pp.period("day")), "x")
    for i in range(100):
        delivery.record([delivery.count("orders" if i % 2 else "returns")])
    assert not outage.paused()  # Redis answers: no pause for the writes of others
    wait_until(lambda: delivery.flush_buffer() and len(delivery.get_buffer()) == 0)
    time.sleep(2.5)  # the tokens lapse
    for _ in range(3):
        assert delivery.flush_buffer() is True
    day = pp.period("day")
    assert pp.counter("orders").total(day) == 50
    assert len(delivery.get_buffer()) == 0
    assert len(_letters()) == 50 and all("WRONGTYPE" in x["error"] for x in _letters())

    pp.client.delete(pp.keys.counter_total("returns", day))
    call_command("porpoise_replay", "--dead-letters", stdout=io.StringIO())
    call_command("porpoise_replay", "--dead-letters", stdout=io.StringIO())
    assert pp.counter("returns").total(day) == 50
    assert pp.counter("orders").total(day) == 50
    assert _letters() == []


def test_a_count_still_spooled_after_its_token_lapsed_is_not_sent_again(porpoise, private_server):
    # Applied, but its row was not deleted (the reply was lost, the DELETE
    # failed, the process died in between): once its token is gone, sending it
    # again would count it twice.
    pp = porpoise(REDIS_URL=private_server.url, RETRY_SECONDS=60, IDEMPOTENCY_TTL=2)
    counted = delivery.count("orders", by=5)
    assert delivery.record([counted])
    delivery.get_buffer().add([counted, delivery.mark("visit", 3)])
    time.sleep(2.5)
    assert delivery.flush_buffer() is True
    assert pp.counter("orders").total(pp.period("day")) == 5
    assert list(pp.event("visit").day()) == [3]  # marks are idempotent: always sent
    [letter] = _letters()
    assert letter["kind"] == "count" and letter["error"].startswith("expired")
    out = io.StringIO()
    call_command("porpoise_replay", "--dead-letters", stdout=out)
    assert "1 expired count(s) left" in out.getvalue()
    assert pp.counter("orders").total(pp.period("day")) == 5


@pytest.mark.parametrize(
    "error, expected",
    [
        (redis.exceptions.ConnectionError("refused"), True),
        (redis.exceptions.TimeoutError("slow"), True),
        (redis.exceptions.BusyLoadingError("loading"), True),
        (redis.exceptions.ReadOnlyError("replica"), True),
        (redis.exceptions.OutOfMemoryError("full"), True),
        (redis.exceptions.ClusterDownError("down"), True),
        (redis.exceptions.MasterDownError("down"), True),
        (redis.exceptions.TryAgainError("again"), True),
        (redis.exceptions.ResponseError("BUSY a script", status_code="BUSY"), True),
        (redis.exceptions.ResponseError("MISCONF no disk", status_code="MISCONF"), True),
        (outage.EngineUnavailable("no node"), True),
        (ConnectionResetError(), True),
        (redis.exceptions.ResponseError("WRONGTYPE list", status_code="WRONGTYPE"), False),
        (redis.exceptions.ResponseError("ERR syntax", status_code="ERR"), False),
        (redis.exceptions.DataError("bad"), False),
        (ValueError("hour is not tracked"), False),
    ],
)
def test_what_is_an_outage(error, expected):
    assert outage.is_outage(error) is expected


def test_a_busy_server_is_an_outage_the_writes_wait(porpoise, private_server):
    # A script running too long makes Redis answer BUSY to everyone else.
    pp = porpoise(REDIS_URL=private_server.url, RETRY_SECONDS=60, SOCKET_TIMEOUT=2)
    admin = redis.Redis.from_url(private_server.url)
    admin.config_set("busy-reply-threshold", 50)
    looping = threading.Thread(
        target=lambda: _ignore(
            redis.Redis.from_url(private_server.url).eval, "while true do end", 0
        )
    )
    looping.start()
    try:
        time.sleep(0.3)
        assert delivery.record([delivery.mark("visit", 1)]) is False
        assert outage.paused() and len(delivery.get_buffer()) == 1
        assert delivery.get_buffer().stats.dead == 0
    finally:
        wait_until(lambda: _ignore(admin.script_kill) is not False, 5)
        looping.join()
    assert delivery.flush_buffer() is True
    assert list(pp.event("visit").day()) == [1]


def _ignore(call, *args):
    try:
        return call(*args)
    except redis.exceptions.RedisError:
        return False


def test_writes_in_memory_replayed_row_by_row_count_as_waiting_until_settled(
    porpoise, private_server, tmp_path, caplog
):
    from porpoise_django.delivery import building
    from porpoise_django.delivery.buffer import DurableBuffer

    porpoise(**_outage_options(private_server, GRANULARITIES=HOURLY))
    hourly = delivery.mark("purchase", 7, granularities=("hour",))
    pp = porpoise(**_outage_options(private_server))  # hours no longer tracked
    # No spool (its folder refused): writes wait in memory.
    buffer = DurableBuffer(str(tmp_path), max_bytes=10**6, memory_size=100, problem="refused")
    writes = [delivery.mark("visit", 1), hourly, delivery.mark("visit", 2, public=True)]
    buffer.add(writes, at=100.0)
    assert len(buffer) == 3 and buffer.backlog and buffer.spooled == 0
    # Each failed try is counted, the last one described (porpoise_stats, porpoise_replay).
    buffer.add([], error=redis.exceptions.ConnectionError("refused"))
    buffer.add([], error=redis.exceptions.TimeoutError("slow"))
    assert buffer.stats.failures == 2 and buffer.stats.last_error == "TimeoutError: slow"
    assert len(buffer) == 3 and buffer.stats.buffered == 3
    seen = []

    def submit(batch):
        seen.append((len(batch), len(buffer), buffer.backlog, buffer.spool_stats()["memory"]))
        return building.submit(batch)

    private_server.stop()
    with pytest.raises(redis.exceptions.ConnectionError):
        buffer.replay(submit, orphans=False)
    # The engine refuses the hourly row before any round trip: halved, the
    # first half meets the outage, which stops the replay; all of them wait.
    assert seen == [(3, 3, True, 3), (1, 3, True, 3)]  # taken out, still waiting
    taken = buffer.memory.take()
    assert [w for _, w in taken] == writes and {at for at, _ in taken} == {100.0}  # in order
    assert buffer.memory.take() == [] and len(buffer) == 3  # (the exit's spill, meanwhile)
    buffer.memory.restore(taken, taken=3)
    assert len(buffer) == 3 and buffer.stats.attempts == 1

    private_server.start()
    seen.clear()
    with caplog.at_level(logging.ERROR, logger="porpoise_django"):
        assert buffer.replay(submit, orphans=False) is True
    # Refused as a whole, then halved: the refused row alone, the others sent.
    assert [n for n, *_ in seen] == [3, 1, 2, 1, 1]
    assert all(waiting == 3 and backlog for _, waiting, backlog, _ in seen)
    assert sorted(pp.event("visit").day()) == [1, 2]
    assert len(buffer) == 0 and not buffer.backlog
    assert buffer.stats.replayed == 2 and buffer.stats.dead == 1
    [(dead, reason)] = buffer.memory.dead
    assert dead == hourly and reason.startswith("InvalidGranularity")
    assert buffer.spool_stats() == {  # the same figures as with a spool
        "rows": 0,
        "bytes": 0,
        "public_rows": 0,
        "oldest": None,
        "dropped": 0,
        "dead_letters": 0,
        "memory": 0,
        "memory_dead_letters": 1,
        "path": None,
        "folder": str(tmp_path),
        "problem": "refused",
        "error": None,
    }
    [line] = [r.getMessage() for r in caplog.records if "dead letters in" in r.getMessage()]
    assert line.startswith(
        "porpoise: 1 write(s) refused, kept as dead letters in memory (InvalidGranularity: "
    )
    assert line.endswith("); see manage.py porpoise_stats, porpoise_replay --dead-letters")
    assert buffer.stats.attempts == 2
    buffer.add([hourly])
    assert buffer.replay(submit, orphans=False) is True
    assert buffer.stats.dead == 2 and len(buffer.memory.dead) == 2


def test_a_count_expires_by_the_time_it_was_first_tried(porpoise, tmp_path, caplog):
    from porpoise_django.delivery import building, deadletters
    from porpoise_django.delivery.buffer import DurableBuffer

    pp = porpoise()
    tmp_path.chmod(0o700)
    # Tokens live 100 s: a count is sent again only within 95 s of its first try.
    buffer = DurableBuffer(
        str(tmp_path),
        target="t",
        max_bytes=10**6,
        memory_size=10,
        token_ttl=100,
        dead_max_bytes=5000,
    )
    assert (buffer._spool.max_bytes, buffer._spool.dead_max_bytes) == (10**6, 5000)
    now = time.time()
    buffer.add([delivery.count("orders", by=2)], at=now - 90)
    buffer.add([delivery.count("orders", by=3), delivery.mark("visit", 5)], at=now - 100)
    assert [row.at for row in buffer._spool.oldest(10)] == [now - 90, now - 100, now - 100]
    assert buffer.stats.buffered == 3 and buffer.spooled == 3
    assert buffer.replay(building.submit, orphans=False) is True
    assert pp.counter("orders").total(pp.period("day")) == 2
    assert list(pp.event("visit").day()) == [5]  # a mark is always sent again
    [letter] = deadletters.letters(tmp_path, "t")
    assert letter.row.write.row[:3] == ("orders", None, 3) and letter.error == (
        "expired: spooled more than IDEMPOTENCY_TTL ago; its token may have lapsed,"
        " so sending it again could count it twice"
    )
    assert f"kept as dead letters in {buffer._spool.path} (expired: " in caplog.text
    assert len(buffer) == 0 and buffer.stats.dead == 1 and buffer.stats.replayed == 2
    buffer.close()


def test_spools_of_gone_processes_are_drained_and_foreign_rows_left_and_said(
    porpoise, tmp_path, caplog
):
    from porpoise_django.delivery import building
    from porpoise_django.delivery.buffer import DurableBuffer
    from porpoise_django.delivery.spool import Spool

    pp = porpoise()
    tmp_path.chmod(0o700)
    gone = Spool.open(tmp_path, target="t")
    gone.append([delivery.mark("visit", i) for i in range(3)])
    gone.close()
    foreign = Spool.open(tmp_path, target="another project")
    foreign.append([delivery.mark("visit", i) for i in range(10, 12)])
    foreign.close()
    buffer = DurableBuffer(str(tmp_path), target="t", max_bytes=10**6, memory_size=10)
    with caplog.at_level(logging.INFO, logger="porpoise_django"):
        assert buffer.replay(building.submit, orphans=False) is True
        assert sorted(pp.event("visit").day()) == []  # orphans left for later
        assert buffer.replay(building.submit) is True
    assert sorted(pp.event("visit").day()) == [0, 1, 2]
    assert not gone.path.exists() and foreign.path.exists()
    assert [r.getMessage() for r in caplog.records] == [
        f"porpoise: replayed 3 writes from the spool {gone.path.name} of a process that is gone",
        f"porpoise: spool {foreign.path} holds 2 writes of another target; not replayed here",
    ]
    assert buffer.stats.replayed == 3 and buffer.stats.attempts == 2
    buffer.close()


def test_a_spool_that_cannot_be_written_keeps_the_writes_in_memory_and_says_why(
    porpoise, tmp_path, caplog
):
    from porpoise_django.delivery import building
    from porpoise_django.delivery.buffer import DurableBuffer

    pp = porpoise()
    tmp_path.chmod(0o700)
    buffer = DurableBuffer(str(tmp_path), target="t", max_bytes=10**6, memory_size=10)
    db = buffer._spool._db
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
    with caplog.at_level(logging.ERROR, logger="porpoise_django"):
        buffer.add([delivery.mark("visit", i) for i in range(200)])
    assert buffer.spooled == 0 and len(buffer.memory) == 10 and len(buffer) == 10
    name = buffer._spool.path.name
    assert buffer.stats.spool_error == f"spool {name}: database or disk is full"
    assert buffer.spool_stats()["error"] == buffer.stats.spool_error
    assert [r.getMessage() for r in caplog.records if "spool write" in r.getMessage()] == [
        f"porpoise: spool write failed (spool {name}: database or disk is full);"
        " 200 writes kept in memory"
    ]
    assert buffer.replay(building.submit, orphans=False) is True
    assert sorted(pp.event("visit").day()) == list(range(190, 200))  # the newest 10
    buffer.close()


def test_an_outage_in_the_middle_of_a_memory_replay_keeps_what_was_not_sent(
    porpoise, private_server, tmp_path
):
    from porpoise_django.delivery import building
    from porpoise_django.delivery.buffer import DurableBuffer

    porpoise(**_outage_options(private_server, GRANULARITIES=HOURLY))
    hourly = delivery.mark("purchase", 7, granularities=("hour",))
    porpoise(**_outage_options(private_server))  # hours no longer tracked
    buffer = DurableBuffer(str(tmp_path), max_bytes=10**6, memory_size=100, problem="refused")
    late = delivery.mark("visit", 2)
    buffer.add([delivery.mark("visit", 1), hourly, late])

    def submit(batch):
        building.submit(batch)  # [visit 1] goes through, then Redis goes away
        private_server.stop()

    with pytest.raises(redis.exceptions.ConnectionError):
        buffer.replay(submit, orphans=False)
    assert [w for _, w in buffer.memory.take()] == [late]  # sent and refused rows settled
    assert len(buffer.memory.dead) == 1 and buffer.stats.replayed == 1
