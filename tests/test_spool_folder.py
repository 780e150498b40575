"""A project's spool folder is its own: keyed by key prefix and Redis server,
0700, refused when someone else could write to it; files 0600; rows carry
their target and are never replayed into another one."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import time
from pathlib import Path

import pytest
from django.core.checks import run_checks

from porpoise_django import delivery

pytestmark = pytest.mark.django_db


def _down(server, **extra):
    return {"REDIS_URL": server.url, "RETRY_SECONDS": 60, "SOCKET_TIMEOUT": 0.3, **extra}


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_default_folder_is_the_users_cache_not_the_temporary_folder(settings, tmp_path):
    import tempfile

    settings.PORPOISE = {"KEY_PREFIX": "shop"}
    where = Path(delivery.spool_dir())
    assert not str(where).startswith(tempfile.gettempdir())
    assert where.parent == Path.home() / ".cache" / "porpoise-django"
    assert where.name.startswith("shop-")


def test_each_project_and_server_has_its_own_folder(settings):
    names = set()
    for prefix, url in [
        ("a", "redis://h:6379/0"),
        ("b", "redis://h:6379/0"),
        ("a", "redis://h:6379/1"),
    ]:
        settings.PORPOISE = {"KEY_PREFIX": prefix, "REDIS_URL": url, "SPOOL_DIR": "/x"}
        names.add(delivery.spool_dir())
    assert len(names) == 3
    settings.PORPOISE = {"KEY_PREFIX": "a", "REDIS_URL": "redis://u:secret@h:6379/0"}
    from porpoise_django.delivery import folder

    assert "secret" not in folder.target() and "u@h:6379/0" in folder.target()


def test_folder_0700_and_files_0600(porpoise, private_server):
    porpoise(**_down(private_server))
    private_server.stop()
    assert delivery.record([delivery.mark("visit", 1)]) is False
    path = Path(delivery.get_buffer().spool_stats()["path"])
    assert _mode(path.parent) == 0o700
    assert _mode(path) == 0o600
    assert not list(path.parent.glob("*.lock"))  # the lock is on the file itself


def test_another_projects_writes_are_never_replayed_into_ours(porpoise, private_server):
    porpoise(**_down(private_server))  # project A: the fixture's prefix
    a_folder = Path(delivery.spool_dir())
    private_server.stop()
    assert delivery.record([delivery.mark("purchase", 1), delivery.mark("purchase", 2)]) is False
    delivery.reset()  # A's process is gone: its spool waits in A's folder
    [a_file] = a_folder.glob("spool-*.sqlite3")

    private_server.start()
    b_prefix = f"{porpoise(**_down(private_server)).keys.prefix}-b"
    b = porpoise(**_down(private_server, KEY_PREFIX=b_prefix))
    delivery.get_buffer()
    b_folder = Path(delivery.spool_dir())
    assert b_folder != a_folder
    # Even A's file copied into B's folder: its rows name A's target.
    shutil.copy(a_file, b_folder / "spool-copied-1-1.sqlite3")
    os.chmod(b_folder / "spool-copied-1-1.sqlite3", 0o600)
    assert delivery.flush_buffer() is True
    assert b.event_names() == []
    assert (b_folder / "spool-copied-1-1.sqlite3").exists()  # left alone

    a = porpoise(**_down(private_server))
    assert delivery.flush_buffer() is True
    assert sorted(a.event("purchase").day()) == [1, 2]
    b.client.delete(*b.client.keys(f"{b_prefix}*") or ["none"])


def _plant(folder: Path, prefix: str) -> None:
    """A spool another local user planted: a mark of ids 31337 and 31338 and a
    huge revenue count, in the file layout of the version before this one too."""
    folder.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(folder / "spool-evil-1-1.sqlite3")
    db.execute("CREATE TABLE writes (id INTEGER PRIMARY KEY, at REAL, payload TEXT)")
    rows = [
        ["mark", ["purchase", 31337, time.time()], None, False, None],
        ["mark", ["purchase", 31338, time.time()], None, False, None],
        ["count", ["revenue", None, 1e12, time.time()], None, False, "evil"],
    ]
    db.executemany(
        "INSERT INTO writes (at, payload) VALUES (?, ?)",
        [(time.time(), json.dumps(r)) for r in rows],
    )
    db.commit()
    db.close()
    os.chmod(folder, 0o777)


def test_a_folder_someone_else_can_write_to_is_refused(porpoise, private_server, caplog):
    pp = porpoise(**_down(private_server))
    where = Path(delivery.spool_dir())
    delivery.reset()
    shutil.rmtree(where, ignore_errors=True)
    # Planted where this version looks, and where the one before looked.
    _plant(where, pp.keys.prefix)
    _plant(where.parent, pp.keys.prefix)
    errors = [m for m in run_checks() if m.id == "porpoise_django.E010"]
    assert errors and "writable by group or others" in errors[0].msg

    pp = porpoise(**_down(private_server))
    assert delivery.flush_buffer() is True
    assert pp.event_names() == [] and pp.counter_names() == []
    buffer = delivery.get_buffer()
    assert "porpoise_django.E010" in buffer.spool_stats()["problem"]
    assert "no spool in" in caplog.text
    # Outage writes still wait, in memory.
    private_server.stop()
    assert delivery.record([delivery.mark("visit", 1)]) is False
    assert buffer.spool_stats()["memory"] == 1


def test_a_folder_of_another_user_is_refused(porpoise, private_server):
    from porpoise_django.delivery import folder

    porpoise(**_down(private_server))
    delivery.get_buffer()
    where = Path(delivery.spool_dir())
    if os.geteuid() != 0:  # a folder of root's stands for another user's
        assert "owned by uid 0" in folder.problem(Path("/"), strict=True)
        return
    os.chown(where, 4242, 4242)
    try:
        [error] = [m for m in run_checks() if m.id == "porpoise_django.E010"]
        assert "owned by uid 4242" in error.msg
        porpoise(**_down(private_server, RETRY_SECONDS=1))
        assert "owned by uid 4242" in delivery.get_buffer().spool_stats()["problem"]
    finally:
        os.chown(where, 0, 0)
    porpoise(**_down(private_server, RETRY_SECONDS=2))
    assert [m for m in run_checks() if m.id == "porpoise_django.E010"] == []
    assert delivery.get_buffer().spool_stats()["problem"] is None


def test_a_cluster_given_as_a_list_of_nodes_has_one_folder(settings):
    from porpoise_django.delivery import folder

    nodes = ["redis://h1:7000/0", "redis://:pw@h2:7001/0"]
    settings.PORPOISE = {"REDIS_URL": nodes, "REDIS_CLUSTER": True, "SPOOL_DIR": "/x"}
    as_list = folder.target()
    settings.PORPOISE = {"REDIS_URL": ",".join(nodes), "REDIS_CLUSTER": True, "SPOOL_DIR": "/x"}
    assert folder.target() == as_list and "pw" not in as_list and "h2:7001" in as_list
