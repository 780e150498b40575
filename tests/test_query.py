"""The query language: precedence, results against sets, hostile input."""

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from porpoise_django.engine import InvalidExpression, parse_query


@pytest.fixture
def marked(pp):
    sets = {"login": {1, 2, 3}, "song:played": {2, 3, 4}, "sign-up": {3, 5}, "premium": {4}}
    pp.mark_many([(name, i) for name, ids in sets.items() for i in ids])
    return pp, sets


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("login & song:played", lambda s: s["login"] & s["song:played"]),
        ("login | premium", lambda s: s["login"] | s["premium"]),
        ("login ^ song:played", lambda s: s["login"] ^ s["song:played"]),
        ("login - song:played", lambda s: s["login"] - s["song:played"]),
        ("sign-up", lambda s: s["sign-up"]),
        ("~login", lambda s: {1, 2, 3, 4, 5} - s["login"]),
        ("login | premium & song:played", lambda s: s["login"] | (s["premium"] & s["song:played"])),
        (
            "(login | premium) & song:played",
            lambda s: (s["login"] | s["premium"]) & s["song:played"],
        ),
        ("login ^ premium | sign-up", lambda s: (s["login"] ^ s["premium"]) | s["sign-up"]),
        (
            "~(login - sign-up) & ~premium",
            lambda s: ({1, 2, 3, 4, 5} - (s["login"] - s["sign-up"])) - s["premium"],
        ),
        ("  login&song:played  ", lambda s: s["login"] & s["song:played"]),
    ],
)
def test_queries_match_sets(marked, query, expected):
    pp, sets = marked
    result = parse_query(pp, query).bind(pp.period("day"))
    assert set(result) == expected(sets)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("login &", "ends too early"),
        ("& login", "unexpected '&' at position 0"),
        ("(login | premium", "missing '\\)'"),
        ("login )", "unexpected '\\)'"),
        ("login premium", "unexpected 'premium'"),
        ("bad{name}", "invalid event name"),
        ("a" * 501, "longer than 500"),
        ("(" * 30 + "a" + ")" * 30, "deeper than 20"),
        ("~" * 30 + "a", "deeper than 20"),
        (" | ".join(f"e{i}" for i in range(60)), "more than 50 events"),
        ("&".join(["a"] * 150), "more than 200 tokens"),
        ("__import__('os')", "unexpected '\\('"),
        ("os.system('x') | 'y'", "unexpected '\\('"),
    ],
)
def test_hostile_or_malformed_queries(pp, query, message):
    with pytest.raises(InvalidExpression, match=message):
        parse_query(pp, query)


def test_non_string_query(pp):
    with pytest.raises(InvalidExpression, match="must be a string"):
        parse_query(pp, ["login"])


@given(st.text(max_size=80))
def test_any_text_parses_or_raises_a_clear_error(text):
    from porpoise_django.engine import Analytics

    pp = Analytics(None, prefix="fuzz")  # parsing needs no server
    with contextlib.suppress(InvalidExpression):
        parse_query(pp, text)


EVENTS = {"login": {1, 2, 3}, "song:played": {2, 3, 4}, "sign-up": {3, 5}, "premium": {4}}
UNIQUES = {"vip": {1, 5, 6}}  # 6 holds only the unique event: part of the universe


def _leaf() -> st.SearchStrategy:
    return st.sampled_from(
        [(name, ids) for name, ids in EVENTS.items()]
        + [(f"unique({name})", ids) for name, ids in UNIQUES.items()]
    )


def _combine(children: st.SearchStrategy) -> st.SearchStrategy:
    universe = set().union(*EVENTS.values(), *UNIQUES.values())
    ops = {
        "&": lambda a, b: a & b,
        "|": lambda a, b: a | b,
        "^": lambda a, b: a ^ b,
        " - ": lambda a, b: a - b,
    }
    binary = st.tuples(children, st.sampled_from(sorted(ops)), children).map(
        lambda t: (f"({t[0][0]}{t[1]}{t[2][0]})", ops[t[1]](t[0][1], t[2][1]))
    )
    negated = children.map(lambda c: (f"~({c[0]})", universe - c[1]))
    return binary | negated


@pytest.fixture
def model_store(pp):
    pp.mark_many([(name, i) for name, ids in EVENTS.items() for i in ids])
    for name, ids in UNIQUES.items():
        for i in ids:
            pp.mark_unique(name, i)
    return pp


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(expression=st.recursive(_leaf(), _combine, max_leaves=8), spaces=st.sampled_from(["", " "]))
def test_random_queries_match_a_set_model(model_store, expression, spaces):
    text, expected = expression
    text = text.replace("(", "(" + spaces).replace(")", spaces + ")")
    result = parse_query(model_store, text).bind(model_store.period("day"))
    assert set(result) == expected, text
