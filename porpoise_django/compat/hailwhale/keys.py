"""hailwhale's dimension keys: its JSON helpers and the engine paths they stand for."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from typing import Any

from porpoise_django.engine import check_dimension_path

_BARE_DECIMAL = re.compile(r"([:\[,]\s*-?)\.(?=\d)")
#: hailwhale's spellings of "no dimension" (the overall row, ``"_"``).
ROOTS: tuple[Any, ...] = (None, "", "_", [], ["_"], (), '""', '"_"', '["_"]', "[]", "null")


def try_loads(value: Any) -> Any:
    """hailwhale's ``try_loads``: JSON text (``'["a", "b"]'``) as its value, and a
    list of one item as that item."""
    if isinstance(value, str) and value and value[0] in "[{\"'":
        text = value.replace("'", '"')
        try:
            value = json.loads(text)
        except ValueError:
            # hailwhale's README writes numbers as .50: read them as 0.50
            with contextlib.suppress(ValueError):
                value = json.loads(_BARE_DECIMAL.sub(r"\g<1>0.", text))
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def maybe_dumps(value: Any) -> str:
    """hailwhale's row key of a dimension: text as it is, a list of one item as
    that item, a longer list as JSON (``'["a", "b"]'``)."""
    if isinstance(value, str):
        value = try_loads(value)
        if isinstance(value, str):
            return value
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return maybe_dumps(value[0])
        return json.dumps([maybe_dumps(v) for v in value])
    if isinstance(value, Mapping):
        return json.dumps({maybe_dumps(k): maybe_dumps(v) for k, v in value.items()})
    return json.dumps(value)


def path_of(dimension: Any) -> str:
    """The engine path of one hailwhale dimension (``"_"`` and its spellings: "")."""
    value = try_loads(dimension)
    if value in ROOTS:
        return ""
    if isinstance(value, (list, tuple)):
        return check_dimension_path([str(v) for v in value])
    if isinstance(value, (str, int)):
        return check_dimension_path(str(value))
    raise ValueError("to read, give one dimension: 'country' or ['country', 'US']")


def key_of(path: str) -> str:
    """hailwhale's row key of an engine path."""
    return "_" if not path else maybe_dumps(path.split("/"))


def value_of(path: str) -> Any:
    """hailwhale's value of an engine path: ``"_"``, ``"a"`` or ``["a", "b"]``."""
    parts = path.split("/") if path else []
    return "_" if not parts else parts[0] if len(parts) == 1 else parts


def parent_of(path: str) -> str | None:
    if not path:
        return None
    return path.rsplit("/", 1)[0] if "/" in path else ""
