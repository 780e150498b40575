"""Bulk import and large batches give exactly what single marks give."""

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from porpoise_django.engine import InvalidId, InvalidTime
from porpoise_django.engine.storage import bitarrays
from porpoise_django.engine.time.periods import dense_unique

UTC = dt.UTC


def test_import_arrays_matches_single_marks(make_analytics, clock):
    rng = np.random.default_rng(7)
    ids = rng.integers(0, 3 * 2**12, 5000)
    base = int(clock.now.timestamp())
    stamps = base - rng.integers(0, 20 * 86400, 5000)
    bulk = make_analytics(chunk_bits=12, granularities=("hour", "day", "week", "month", "year"))
    one = make_analytics(chunk_bits=12, granularities=("hour", "day", "week", "month", "year"))
    assert bulk.import_arrays("active", ids, stamps) == 5000
    one.mark_many(
        [
            ("active", int(i), dt.datetime.fromtimestamp(int(t), UTC))
            for i, t in zip(ids, stamps, strict=True)
        ]
    )
    for granularity in ("hour", "day", "week", "month", "year"):
        for period in bulk.range(granularity, -3 if granularity != "hour" else -48):
            assert sorted(bulk.event("active").at(granularity, period.start)) == sorted(
                one.event("active").at(granularity, period.start)
            ), (granularity, period)
    assert bulk.event_names() == ["active"]
    assert len(bulk.universe()) == len(set(ids.tolist()))


def test_import_merges_with_existing_bits(pp):
    pp.mark("active", 5)
    pp.import_arrays("active", np.array([7, 9]), np.array([pp.now().timestamp()] * 2))
    assert list(pp.event("active").day()) == [5, 7, 9]


def test_bulk_import_rows_with_mixed_time_types(pp, clock):
    rows = [
        ("active", 1, clock.now),
        ("active", 2, clock.now.timestamp()),
        ("signup", 3, clock.now.date()),
    ]
    assert pp.bulk_import(rows, batch_size=2) == 3
    assert list(pp.event("active").day()) == [1, 2]
    assert list(pp.event("signup").day()) == [3]


def test_bulk_import_validates_rows(pp):
    with pytest.raises(InvalidId, match="row 1"):
        pp.bulk_import([("active", 1, 0), ("active", -1, 0)])
    with pytest.raises(InvalidId, match="integer array"):
        pp.import_arrays("active", np.array(["x"]), np.array([0]))
    with pytest.raises(InvalidTime, match="epoch seconds"):
        pp.import_arrays("active", np.array([1]), np.array(["yesterday"]))
    with pytest.raises(ValueError, match="1 ids but 2 timestamps"):
        pp.import_arrays("active", np.array([1]), np.array([0, 1]))


def test_map_mode_bulk_import(make_analytics, clock):
    pp = make_analytics(id_mode="map")
    pp.import_arrays("active", ["u1", "u2", "u1"], [clock.now.timestamp()] * 3)
    assert sorted(pp.event("active").day()) == ["u1", "u2"]


def test_memory_of_sparse_ids(make_analytics, redis_client):
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 2**32, 1000)
    mapped = make_analytics(id_mode="map")
    mapped.mark_many([("active", int(i)) for i in ids])
    used = sum(
        redis_client.memory_usage(k) or 0
        for k in redis_client.scan_iter(match=f"{mapped.keys.prefix}:*")
    )
    assert used < 2 * 1024 * 1024
    assert len(mapped.event("active").day()) == len(set(ids.tolist()))


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.integers(-(2**40), 2**40), max_size=50)
    | st.lists(st.integers(10**9, 10**9 + 300), max_size=400)
)
def test_the_sort_free_unique_of_an_import_is_numpys(values):
    """Slots and chunks of an import are grouped without a sort when their range is
    narrow (counting), with one otherwise: the same answer as ``np.unique``."""
    array = np.asarray(values, dtype=np.int64)
    unique, inverse = dense_unique(array)
    expected, expected_inverse = np.unique(array, return_inverse=True)
    assert unique.tolist() == expected.tolist()
    assert inverse.tolist() == expected_inverse.tolist()


@pytest.mark.parametrize(
    ("groups", "scatter_bits"),
    [
        (7, bitarrays.SCATTER_BITS),  # one block: every group scattered at once
        (40, 8 * 64),  # several blocks (8 groups of 64 bits each)
        (400, 8 * 64),  # past MAX_SCATTER_BLOCKS: sorted into groups
        (2**16 + 5, bitarrays.SCATTER_BITS),  # too many groups for a 16-bit sort key
    ],
)
def test_an_imports_groups_become_the_bitmaps_of_their_offsets(groups, scatter_bits, monkeypatch):
    monkeypatch.setattr(bitarrays, "SCATTER_BITS", scatter_bits)
    rng = np.random.default_rng(3)
    width = 64
    group = rng.integers(0, groups, 20_000)
    offsets = rng.integers(0, width, 20_000)
    offsets[:50] = 0  # a group whose only bit is the first: one byte long
    seen = list(bitarrays.group_bitmaps(group, offsets, width))
    assert [g for g, _ in seen] == sorted(set(group.tolist()))
    for g, raw in seen:
        # Exactly those offsets, and no longer than its highest bit needs.
        assert raw == bitarrays.bitmap_from_offsets(offsets[group == g])
    assert list(bitarrays.group_bitmaps(group[:0], offsets[:0], width)) == []
