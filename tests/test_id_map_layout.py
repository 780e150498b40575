"""The id map's layout in Redis ("map" id mode): small hashes in the compact
listpack encoding, at most 40 bytes per id, ids over 64 bytes, digest chains,
forget, purge, and a map of the one-hash layout (0.1) read and migrated."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from porpoise_django.engine import Analytics
from porpoise_django.engine.storage import ids as ids_module
from porpoise_django.engine.storage.ids import pack_id, unpack_id


def map_keys(client: Any, pp: Analytics) -> list[bytes]:
    """Every hash of the id map (buckets, meta, long ids, the one-hash layout)."""
    found = client.scan_iter(match=f"{pp.keys.prefix}:{{idmap*", count=1000)
    return [k for k in found if client.type(k) == b"hash"]


def bytes_per_id(client: Any, pp: Analytics, count: int) -> float:
    return sum(client.memory_usage(k, samples=0) for k in map_keys(client, pp)) / count


def test_buckets_stay_compact_at_their_largest(make_analytics, redis_client):
    """19,200 ids: 480 forward buckets, the 32 not yet split holding 75 ids each
    on average (twice the others), the largest over 70; every bucket stays a
    listpack and the map costs at most 40 bytes per short string id."""
    pp = make_analytics(id_mode="map")
    users = [f"user-{1_000_000 + i}" for i in range(19_200)]
    indexes = pp.id_codec.to_indexes(users, create=True)
    assert sorted(indexes) == list(range(len(users)))
    keys = map_keys(redis_client, pp)
    forward = [k for k in keys if b":f:" in k]
    reverse = [k for k in keys if b":r:" in k]
    assert len(forward) == 480 and len(reverse) == 150  # 19,200 / 128
    sizes = [redis_client.hlen(k) for k in forward]
    assert 70 < max(sizes) < 128 and min(sizes) > 5
    assert {redis_client.object("encoding", k) for k in keys} == {b"listpack"}
    assert bytes_per_id(redis_client, pp, len(users)) <= 40
    # Another process (no cache) finds them all, both ways.
    other = make_analytics(id_mode="map")
    assert other.id_codec.to_indexes(users, create=False) == indexes
    assert other.id_codec.to_externals(indexes[::-1][:5000]) == users[::-1][:5000]


def test_uuids_are_packed(make_analytics, redis_client):
    """Canonical UUID strings are kept in 17 bytes and come back as sent (lower
    or upper case); others, mixed case, as they are."""
    pp = make_analytics(id_mode="map")
    values = [str(uuid.UUID(int=i * 7_919_000_003 + 5)) for i in range(5000)]
    assert values[1].endswith("d80259c8")
    values += [values[1].upper(), values[1][:-1] + "C", values[2].replace("-", "")]
    indexes = pp.id_codec.to_indexes(values, create=True)
    assert len(set(indexes)) == len(values)
    other = make_analytics(id_mode="map")
    assert other.id_codec.to_externals(indexes) == values
    assert bytes_per_id(redis_client, pp, len(values)) <= 40
    assert pack_id(values[1].upper()) != pack_id(values[1])
    assert len(pack_id(values[1].upper())) == 17 and len(pack_id(values[-2])) == 36
    assert unpack_id(pack_id(values[-2])) == values[-2]
    # UUID objects are mapped under their string.
    assert pp.id_codec.check(uuid.UUID(values[3])) == values[3]


def test_ids_over_64_bytes_are_kept_aside(make_analytics, redis_client):
    """Ids longer than a compact hash value are stored in one hash per shard:
    the buckets of the others stay listpacks, lookups answer both."""
    pp = make_analytics(id_mode="map")
    short = [f"u{i}" for i in range(300)]
    long = ["x" * 65 + str(i) for i in range(50)] + ["é" * 128]  # 256 bytes of UTF-8
    others = long + short[: len(short) - len(long)]
    mixed = [v for pair in zip(short, others, strict=True) for v in pair]
    indexes = pp.id_codec.to_indexes(mixed, create=True)
    other = make_analytics(id_mode="map")
    assert other.id_codec.to_indexes(mixed, create=False) == indexes
    assert other.id_codec.to_externals(indexes) == mixed
    assert redis_client.hlen(pp.keys.idmap_long()) == len(long)
    buckets = [k for k in map_keys(redis_client, pp) if b":f:" in k or b":r:" in k]
    assert {redis_client.object("encoding", k) for k in buckets} == {b"listpack"}


def test_ids_of_one_digest_chain(make_analytics, redis_client, monkeypatch):
    """Ids whose digests are equal (a 1 in 2**40 chance per pair, forced here) are
    told apart by their reverse entries; forgetting one keeps the others."""
    real = ids_module.encode_id

    def colliding(external: str) -> bytes:
        digest = b"\x01\x02\x03\x04\x05" if external.startswith("same-") else real(external)[:5]
        return digest + pack_id(external)

    monkeypatch.setattr(ids_module, "encode_id", colliding)
    pp = make_analytics(id_mode="map")
    same = [f"same-{i}" for i in range(4)]
    indexes = pp.id_codec.to_indexes([*same, "other"], create=True)
    assert len(set(indexes)) == 5
    fresh = make_analytics(id_mode="map")
    assert fresh.id_codec.to_indexes(same, create=False) == indexes[:4]
    pp.mark_many([("active", s) for s in same])
    assert pp.forget("same-1").mapped
    fresh.id_codec.forget()
    assert fresh.id_codec.to_indexes(same, create=False) == [indexes[0], -1, *indexes[2:4]]
    assert fresh.id_codec.to_externals(indexes) == ["same-0", "same-2", "same-3", "other"]
    # Created again: a new index at the end of the chain.
    [again] = fresh.id_codec.to_indexes(["same-1"], create=True)
    assert again not in indexes
    fresh.id_codec.forget()
    assert fresh.id_codec.to_indexes(same, create=False) == [indexes[0], again, *indexes[2:4]]


def test_forget_removes_the_entry_both_ways(make_analytics, redis_client):
    pp = make_analytics(id_mode="map", id_map_shards=4)
    users = [f"user-{i}" for i in range(1000)]
    pp.mark_many([("active", u) for u in users])
    [index] = pp.id_codec.to_indexes(["user-7"], create=False)
    before = sum(redis_client.hlen(k) for k in map_keys(redis_client, pp))
    assert pp.forget("user-7").mapped
    after = sum(redis_client.hlen(k) for k in map_keys(redis_client, pp))
    assert before - after == 2  # one forward field, one reverse field
    values = [v for k in map_keys(redis_client, pp) for v in redis_client.hvals(k)]
    assert b"user-7" not in values and b"user-8" in values
    other = make_analytics(id_mode="map", id_map_shards=4)
    assert other.id_codec.to_indexes(["user-7"], create=False) == [-1]
    assert "user-7" not in other.id_codec.to_externals([index, index + 1, index + 2])
    assert sorted(other.event("active").day()) == sorted(set(users) - {"user-7"})


@pytest.mark.parametrize("shards", [1, 4])
def test_purge_leaves_no_bucket(make_analytics, redis_client, shards):
    pp = make_analytics(id_mode="map", id_map_shards=shards)
    pp.mark_many([("active", f"user-{i}") for i in range(3000)])
    pp.mark_many([("active", "y" * 100)])
    assert len(map_keys(redis_client, pp)) > 60
    pp.delete_all()
    left = {k.rsplit(b":", 1)[-1] for k in redis_client.scan_iter(match=f"{pp.keys.prefix}:*")}
    assert left <= {b"gen", b"seq"}  # the purge generation and the never reset sequences
    # A new map starts small again and never reuses an index.
    pp.mark("active", "user-1")
    [index] = pp.id_codec.to_indexes(["user-1"], create=False)
    assert index >= 3000 and list(pp.event("active").day()) == ["user-1"]


def write_old_layout(client: Any, pp: Analytics, ids: list[str]) -> dict[str, int]:
    """Write ``ids`` as release 0.1 did: one forward and one reverse hash per
    shard, the sequence, the stored shard count."""
    shards = pp.keys.idmap_shards
    indexes = {}
    for external in ids:
        shard = pp.id_codec.shard_of(external)
        forward, reverse, sequence, _ = pp.keys.idmap_keys(shard)
        index = (client.incr(sequence) - 1) * shards + shard
        client.hset(forward, external, index)
        client.hset(reverse, index, external)
        indexes[external] = index
    client.set(pp.keys.idmap_shard_count, shards)
    return indexes


@pytest.mark.parametrize("shards", [1, 4])
def test_a_map_of_the_one_hash_layout_is_read_and_migrated(make_analytics, redis_client, shards):
    pp = make_analytics(id_mode="map", id_map_shards=shards)
    old_ids = [f"old-{i}" for i in range(2500)] + [str(uuid.UUID(int=99)), "z" * 80]
    old = write_old_layout(redis_client, pp, old_ids)
    wanted = list(old.values())
    # Read both ways before any migration; an id looked up moves into the buckets.
    assert pp.id_codec.to_externals(wanted[:10]) == old_ids[:10]
    assert pp.id_codec.to_indexes(old_ids[-3:], create=False) == wanted[-3:]
    forward, _, _, _ = pp.keys.idmap_keys(pp.id_codec.shard_of(old_ids[-1]))
    assert not redis_client.hexists(forward, old_ids[-1])
    # New ids continue the sequences; an old id is forgotten from the old hash.
    new = pp.id_codec.to_indexes(["new-1", "new-2"], create=True)
    assert not set(new) & set(wanted)
    assert pp.forget("old-5").mapped
    moved = pp.id_codec.migrate(batch=500)
    assert moved == len(old_ids) - 3 - 1
    assert not any(redis_client.exists(*pp.keys.idmap_keys(s)[:2]) for s in range(shards)), (
        "the one-hash layout is gone"
    )
    other = make_analytics(id_mode="map", id_map_shards=shards)
    still = [e for e in old_ids if e != "old-5"]
    assert other.id_codec.to_indexes(still, create=False) == [old[e] for e in still]
    assert other.id_codec.to_indexes(["old-5"], create=False) == [-1]
    assert other.id_codec.to_externals([old[e] for e in still]) == still
    assert pp.id_codec.migrate() == 0
    buckets = [k for k in map_keys(redis_client, pp) if b":f:" in k or b":r:" in k]
    assert {redis_client.object("encoding", k) for k in buckets} == {b"listpack"}
