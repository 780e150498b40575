"""The README's engine examples run as written (a README sentence is a promise).

Every ``python`` block of the "Engine" section runs in order, in one
namespace, against the test server. Only placeholders are given values
(``some_aware_datetime``, ``when``, ``rows``...), ``redis.Redis()`` is pointed
at the test server, the key prefix is the test's own, and a ``...`` that
stands for "more rows" is dropped.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import redis

README = Path(__file__).resolve().parent.parent / "README.md"


def engine_blocks() -> list[str]:
    text = README.read_text()
    section = text[text.index("\n## Engine\n") : text.index("\n## Performance\n")]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_engine_section_has_examples():
    assert len(engine_blocks()) >= 8


def test_the_engine_examples_run(
    monkeypatch: pytest.MonkeyPatch, single_client: Any, key_prefix: str
):
    url = "redis://{host}:{port}/{db}".format(**single_client.connection_pool.connection_kwargs)
    monkeypatch.setattr(redis, "Redis", lambda *a, **k: redis.StrictRedis.from_url(url))
    now = dt.datetime.now(dt.UTC)
    namespace: dict[str, Any] = {
        "some_aware_datetime": now - dt.timedelta(hours=2),
        "when": now - dt.timedelta(days=1),
        "ids_array": np.arange(1000),
        "epoch_seconds_array": np.full(1000, now.timestamp() - 60),
        "rows": [("signup", 5, now), ("visit", 5, now.date())],
        "song": SimpleNamespace(id=42),
    }
    for number, block in enumerate(engine_blocks(), 1):
        code = block.replace('prefix="pp"', f'prefix="{key_prefix}"').replace(", ...]", "]")
        try:
            exec(compile(code, f"README engine block {number}", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"README engine block {number} fails: {type(exc).__name__}: {exc}\n{code}")
    assert 123 in namespace["active"].day()
