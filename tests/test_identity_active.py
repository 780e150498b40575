"""ActiveOnce on its own, with a store that counts what it is asked (issue 24:
the set's epoch, its bucket and its bounds; kills mutants of tracking/active.py)."""

import datetime as dt

from porpoise_django.tracking import active
from porpoise_django.tracking.active import ActiveOnce

DAY = 86400.0


class Store:
    """Buckets of one day from 0; an epoch the test moves; counts epoch reads."""

    granularities = ("week", "day")

    def __init__(self):
        self.token, self.reads, self.fail = "a", 0, False

    def epoch(self):
        self.reads += 1
        if self.fail:
            raise ConnectionError("down")
        return self.token

    @staticmethod
    def period(granularity, moment):
        assert granularity == "day"  # the smallest tracked one

        class Day:
            @staticmethod
            def period_end():
                start = moment.timestamp() - moment.timestamp() % DAY
                return dt.datetime.fromtimestamp(start + DAY, dt.UTC)

        return Day


def test_the_epoch_is_read_once_per_interval_and_a_new_one_starts_over():
    store, once = Store(), ActiveOnce(check_seconds=10)
    assert once.first(store, "active", 1, 100.0) is True
    assert store.reads == 1
    assert once.first(store, "active", 1, 105.0) is False
    assert once.seen(store, "active", 1, 105.0) is True
    assert store.reads == 1  # within the interval: no round trip
    assert once.seen(store, "active", 1, 110.0) is False  # a check is due
    assert once.first(store, "active", 1, 110.0) is False  # same epoch: still marked
    assert store.reads == 2
    store.token = "b"  # FLUSHDB, an empty restart or a purge
    assert once.first(store, "active", 1, 115.0) is False  # not read again yet
    assert once.first(store, "active", 1, 120.0) is True
    assert store.reads == 3


def test_no_check_while_writes_are_paused_and_a_failed_read_keeps_the_set():
    store = Store()
    allowed = [True]
    once = ActiveOnce(check_seconds=0, can_check=lambda: allowed[0])
    assert once.first(store, "active", 1, 100.0) is True
    allowed[0] = False
    store.token = "b"
    assert once.first(store, "active", 1, 101.0) is False
    assert store.reads == 1
    allowed[0], store.fail = True, True
    assert once.first(store, "active", 1, 102.0) is False  # unknown: kept
    assert store.reads == 2
    store.fail = False
    assert once.first(store, "active", 1, 103.0) is True


def test_a_new_bucket_another_store_or_the_bound_start_over():
    store, other = Store(), Store()
    once = ActiveOnce(limit=2, check_seconds=1e9)
    assert once.first(store, "active", 1, 100.0) is True
    assert once.first(store, "active", 1, DAY - 1) is False
    assert once.first(store, "active", 1, DAY) is True  # the next day
    assert once.first(store, "active", 1, DAY + 1) is False
    assert once.first(other, "active", 1, DAY + 2) is True  # settings changed
    assert once.first(other, "login", 1, DAY + 3) is True  # events are apart
    assert once.first(other, "active", 2, DAY + 4) is True  # past the bound: over
    assert len(once._state.seen) == 1
    assert once.first(other, "active", 1, DAY + 5) is True
    assert store.reads + other.reads == 2  # the bound and the day kept the epoch
    once.forget()
    assert once.first(other, "active", 2, DAY + 6) is True


def test_the_process_set_follows_the_settings_and_the_outage(porpoise):
    from porpoise_django.delivery import outage

    porpoise(ACTIVE_CHECK_SECONDS=7)
    assert active.ACTIVE.check_seconds == 7.0
    assert active.ACTIVE.can_check() is True
    porpoise(RETRY_SECONDS=60)
    outage.pause()
    try:
        assert active.ACTIVE.can_check() is False
    finally:
        outage.resume()
    assert active.ACTIVE.can_check() is True
    assert active.LIMIT == 100_000 and active.CHECK_SECONDS == 1.0


def test_the_epoch_is_kept_across_a_new_bucket_and_the_bound(caplog):
    store = Store()
    once = ActiveOnce(limit=1, check_seconds=0)
    assert once.first(store, "active", 1, 100.0) is True
    assert once.first(store, "active", 1, 101.0) is False  # same epoch, read again
    assert once.first(store, "active", 2, 102.0) is True  # past the bound: over
    assert once.first(store, "active", 2, 103.0) is False
    assert once.first(store, "active", 2, DAY + 1) is True  # a new day
    assert once.first(store, "active", 2, DAY + 2) is False
    other = Store()
    assert once.first(other, "active", 2, DAY + 3) is True
    assert once.first(other, "active", 2, DAY + 4) is False
    store.fail = True
    with caplog.at_level("DEBUG", logger="porpoise_django"):
        assert once.first(store, "active", 2, DAY + 5) is True
    assert "porpoise: store epoch not read: down" in [r.getMessage() for r in caplog.records]


def test_an_unchanged_epoch_is_kept_for_the_next_checks():
    store = Store()
    once = ActiveOnce(check_seconds=0)
    assert once.first(store, "active", 1, 100.0) is True
    for moment in (101.0, 102.0, 103.0):  # each reads the same epoch
        assert once.first(store, "active", 1, moment) is False
    assert store.reads == 4


def test_a_new_bucket_keeps_the_epoch_until_the_next_check():
    store = Store()
    once = ActiveOnce(check_seconds=DAY)
    assert once.first(store, "active", 1, 100.0) is True
    assert once.first(store, "active", 1, DAY + 1) is True  # new day, no check yet
    assert once.first(store, "active", 1, DAY + 200) is False  # checked: same epoch
    assert store.reads == 2


def test_another_store_during_an_outage_keeps_its_set():
    store, other = Store(), Store()
    allowed = [True]
    once = ActiveOnce(check_seconds=0, can_check=lambda: allowed[0])
    assert once.first(store, "active", 1, 100.0) is True
    allowed[0] = False
    assert once.first(other, "active", 1, 101.0) is True
    assert once.first(other, "active", 1, 102.0) is False
