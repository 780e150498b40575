"""Management commands against the real server."""

import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import stored_keys


def run(*args, stdin=None, monkeypatch=None):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_csv_keeps_good_rows_and_reports_bad_ones(porpoise, tmp_path):
    pp = porpoise()
    today = pp.now().date().isoformat()
    path = tmp_path / "events.csv"
    path.write_text(
        "event,id,time\n"
        f"active,1,{today}\n"
        f"active,2,{pp.now().isoformat()}\n"
        "bad name,3,2026-01-01\n"
        "active,-4,2026-01-01\n"
        "active,5,2026-01-01T10:00:00\n"
        f"login,6,{pp.now().timestamp()}\n"
        "active,7,not a time\n"
    )
    out, err = run("porpoise_import", str(path), "--allow-bad-rows")
    assert "imported 3 event(s); 4 bad row(s)" in out
    assert "line 4: invalid event name 'bad name'" in err
    assert "line 5:" in err and "non-negative integer" in err
    assert "line 6:" in err and "no UTC offset" in err
    assert "line 8:" in err
    assert list(pp.event("active").day()) == [1, 2]
    assert list(pp.event("login").day()) == [6]


def test_import_json_lines_and_bad_json(porpoise, tmp_path):
    pp = porpoise()
    path = tmp_path / "events.jsonl"
    now = pp.now().isoformat()
    path.write_text(
        json.dumps({"event": "active", "id": 10, "time": now}) + "\n"
        "{not json\n"
        + json.dumps(["a", "list"])
        + "\n"
        + json.dumps({"event": "active", "id": 11, "time": now})
        + "\n"
    )
    out, err = run("porpoise_import", str(path), "--granularities", "day", "--allow-bad-rows")
    assert "imported 2 event(s); 2 bad row(s)" in out
    assert "line 2: invalid JSON" in err
    assert "line 3: expected an object" in err
    assert list(pp.event("active").day()) == [10, 11]
    assert len(pp.event("active").week()) == 0  # only day was asked for


def test_import_errors(porpoise, tmp_path):
    porpoise()
    with pytest.raises(CommandError, match="no such file"):
        run("porpoise_import", str(tmp_path / "missing.csv"))
    path = tmp_path / "bad.csv"
    path.write_text("who,what\n1,2\n")
    with pytest.raises(CommandError, match="missing: event, id, time"):
        run("porpoise_import", str(path))
    path.write_text("event,id,time\n")
    with pytest.raises(CommandError, match="allowed"):
        run("porpoise_import", str(path), "--granularities", "fortnight")


def test_export_round_trips_through_import(porpoise, tmp_path, key_prefix):
    pp = porpoise()
    yesterday = pp.now() - dt.timedelta(days=1)
    pp.mark_many([("active", 1), ("active", 2, yesterday), ("login", 2)])
    target = tmp_path / "out.csv"
    run(
        "porpoise_export",
        "--output",
        str(target),
        "--from",
        (pp.now() - dt.timedelta(days=3)).date().isoformat(),
    )
    lines = target.read_text().splitlines()
    assert lines[0] == "event,id,time"
    assert len(lines) == 4
    other = porpoise(KEY_PREFIX=f"{key_prefix}-copy")
    run("porpoise_import", str(target))
    assert list(other.event("active").day()) == [1]
    assert list(other.event("active").day(yesterday)) == [2]
    other.delete_all()


def test_export_jsonl_and_bad_range(porpoise, capsys):
    pp = porpoise()
    pp.mark("active", 3)
    out, _err = run("porpoise_export", "--format", "jsonl", "--event", "active")
    assert json.loads(out.strip()) == {
        "event": "active",
        "id": 3,
        "time": pp.now().date().isoformat(),
    }
    with pytest.raises(CommandError, match="inverted"):
        run("porpoise_export", "--from", "2026-02-01", "--to", "2026-01-01")
    with pytest.raises(CommandError, match="invalid event name"):
        run("porpoise_export", "--event", "no such{")


def test_purge_asks_for_confirmation(porpoise, monkeypatch):
    pp = porpoise()
    pp.mark("active", 1)
    pp.count("hits")
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(CommandError, match="aborted"):
        run("porpoise_purge", "--event", "active")
    assert pp.event_names() == ["active"]
    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    out, _ = run("porpoise_purge", "--event", "active")
    assert "deleted event active" in out
    assert pp.event_names() == []
    run("porpoise_purge", "--all", "--yes")
    assert pp.counter_names() == []
    assert stored_keys(pp.client, pp.keys.prefix) == []
    with pytest.raises(CommandError, match="say what to delete"):
        run("porpoise_purge")


def test_purge_without_a_terminal_aborts(porpoise, monkeypatch):
    porpoise().mark("active", 1)

    def no_input(prompt):
        raise EOFError

    monkeypatch.setattr("builtins.input", no_input)
    with pytest.raises(CommandError, match="aborted"):
        run("porpoise_purge", "--all")


def test_demo_and_stats(porpoise):
    pp = porpoise(GRANULARITIES=["day", "week", "month"])
    out, _ = run("porpoise_demo", "--users", "2000", "--days", "30")
    assert "demo data for 2,000 users over 30 days" in out
    assert len(pp.event("signup").union(pp.range("day", -29))) == 2000
    active_today = len(pp.event("active").day())
    assert 0 < active_today < 2000
    # Retention decays: the first week's signups come back less and less.
    cohort = pp.event("signup").union(pp.range("day", -29, -23))
    early = len(cohort & pp.event("active").union(pp.range("day", -22, -20)))
    late = len(cohort & pp.event("active").union(pp.range("day", -3, -1)))
    assert early > late > 0
    assert pp.counter("page:view").total(pp.period("day", -1)) > 0
    assert pp.counter("song:played").top(pp.range("day", -19), 3)[0][0] == "song-1"
    out, _ = run("porpoise_stats")
    assert "active" in out and "page:view" in out and "premium" in out
    report = json.loads(run("porpoise_stats", "--json")[0])
    assert {e["event"] for e in report["events"]} >= {"signup", "active", "login", "purchase"}
    assert [e["today"] for e in report["events"] if e["event"] == "active"] == [active_today]


def test_commands_have_help_with_examples():
    from django.core.management import load_command_class

    for name in (
        "porpoise_stats",
        "porpoise_import",
        "porpoise_export",
        "porpoise_purge",
        "porpoise_demo",
    ):
        command = load_command_class("porpoise_django", name)
        text = command.create_parser("manage.py", name).format_help()
        assert "examples:" in text and f"manage.py {name}" in text, name


def test_memory_report(porpoise):
    pp = porpoise()
    pp.mark_many([("active", i) for i in range(0, 80_000, 8)])
    rows = {(r["event"], r["granularity"]): r for r in pp.memory_report()}
    day = rows[("active", "day")]
    assert day["users"] == 10_000
    assert 1 <= day["bytes_per_user"] < 2  # 10,000 bits in a 10 KB bitmap
    out, _ = run("porpoise_memory", "--event", "active")
    assert "active" in out and "bytes/user" in out
    report = json.loads(run("porpoise_memory", "--json")[0])
    assert {r["granularity"] for r in report} == {"day", "week", "month"}
    with pytest.raises(CommandError, match="invalid event name"):
        run("porpoise_memory", "--event", "bad name")
