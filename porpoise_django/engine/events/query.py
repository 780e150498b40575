"""A small, safe query language over event names, parsed without ``eval``.

    login & song:played          both
    active | login               either
    active ^ login               exactly one
    active - premium             the first without the second (spaces around "-",
                                 since names may contain "-")
    ~churned                     every id ever marked, minus churned
    unique(premium)              holders of the unique (time-less) event premium
    segment(churned-pro)         members of a saved segment (the same as unique())
    plan=pro  or  plan = "pro"   ids whose person property plan is "pro" now
    purchase=source=ads          the event purchase where its property source was "ads"
    (a | b) & ~(c - d)           parentheses nest

A plain name is an event, bound to the period the query is evaluated for;
``unique(name)`` is a unique event (``mark_unique``), the same in every period.

Precedence, highest first: ``~``, then ``&`` and ``-``, then ``^``, then ``|``.
Inputs are bounded (length, tokens, nesting depth, distinct names), so a
hostile query cannot make the parser or Redis work without limit.

>>> pp.mark_many([("login", 1), ("login", 2), ("song:played", 2)])
3
>>> template = parse_query(pp, "login & song:played")
>>> len(template.bind(pp.period("day")))
1
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from porpoise_django.engine.errors import InvalidExpression
from porpoise_django.engine.events.bitmaps import Bitmap, UniqueBitmap
from porpoise_django.engine.events.event import Event
from porpoise_django.engine.names import (
    NAME_PATTERN,
    NAME_RULE,
    validate_event_name,
    validate_name,
)

if TYPE_CHECKING:
    from porpoise_django.engine.storage.store import Store

MAX_LENGTH = 500
MAX_TOKENS = 200
MAX_DEPTH = 20
MAX_NAMES = 50
_TOKEN = re.compile(r"\s*(?:([()&|^~])|([^\s()&|^~]+))")


def tokenize(text: str) -> list[tuple[str, int]]:
    """``(token, position)`` pairs; names and the operators ( ) & | ^ ~ -."""
    tokens: list[tuple[str, int]] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            break
        token = match.group(1) or match.group(2)
        if token is None:  # only white space left
            break
        tokens.append((token, match.start(1) if match.group(1) else match.start(2)))
        position = match.end()
        if len(tokens) > MAX_TOKENS:
            raise InvalidExpression(f"query has more than {MAX_TOKENS} tokens")
    return tokens


class _Parser:
    def __init__(self, pp: Store, text: str) -> None:
        self.pp = pp
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0
        self.names: set[str] = set()

    def peek(self) -> str | None:
        return self.tokens[self.index][0] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, int]:
        if self.index >= len(self.tokens):
            raise InvalidExpression("query ends too early: an event name or '(' is missing")
        token = self.tokens[self.index]
        self.index += 1
        return token

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise InvalidExpression(f"query nests deeper than {MAX_DEPTH} levels")

    def parse(self) -> Bitmap:
        if not self.tokens:
            raise InvalidExpression("query is empty: give event names and operators")
        result = self.union()
        if self.index != len(self.tokens):
            token, position = self.tokens[self.index]
            raise InvalidExpression(f"unexpected {token!r} at position {position}")
        return result

    def union(self) -> Bitmap:
        result = self.xor()
        while self.peek() == "|":
            self.take()
            result = result | self.xor()
        return result

    def xor(self) -> Bitmap:
        result = self.intersection()
        while self.peek() == "^":
            self.take()
            result = result ^ self.intersection()
        return result

    def intersection(self) -> Bitmap:
        result = self.unary()
        while self.peek() in ("&", "-"):
            operator, _ = self.take()
            right = self.unary()
            result = result & right if operator == "&" else result - right
        return result

    def unary(self) -> Bitmap:
        token, position = self.take()
        if token == "~":
            self.enter()
            result = ~self.unary()
            self.depth -= 1
            return result
        if token == "(":
            self.enter()
            result = self.union()
            if self.peek() != ")":
                raise InvalidExpression(f"missing ')' for the '(' at position {position}")
            self.take()
            self.depth -= 1
            return result
        if token in (")", "&", "|", "^", "-"):
            raise InvalidExpression(f"unexpected {token!r} at position {position}")
        if token in ("unique", "segment") and self.peek() == "(":
            self.take()
            name, name_position = self.take()
            self.name(name, name_position)
            if self.peek() != ")":
                raise InvalidExpression(
                    f"{token}() takes one name: missing ')' for position {position}"
                )
            self.take()
            return UniqueBitmap(self.pp, validate_name(name))
        if self.peek() == "=" or token.endswith("="):
            return self.equality(token.rstrip("="), position)
        if token.count("=") == 1:
            prop, value = token.split("=")
            return self.pp.where(**{self.name(prop, position): _unquoted(value)})
        if token.count("=") == 2:
            event, prop, value = token.split("=")
            return Event(self.pp, validate_event_name(f"{event}={prop}={_unquoted(value)}"))
        return Event(self.pp, validate_name(self.name(token, position)))

    def equality(self, prop: str, position: int) -> Bitmap:
        """``plan = pro`` (with spaces): a person property filter."""
        if self.peek() == "=":
            self.take()
        if self.peek() is None or self.peek() in ("(", ")", "&", "|", "^", "~", "-"):
            raise InvalidExpression(f"a value is missing after '=' at position {position}")
        value, _ = self.take()
        return self.pp.where(**{self.name(prop, position): _unquoted(value)})

    def name(self, token: str, position: int) -> str:
        if not NAME_PATTERN.fullmatch(token) or len(token) > 128:
            raise InvalidExpression(
                f"invalid event name {token[:60]!r} at position {position}: {NAME_RULE}"
            )
        self.names.add(token)
        if len(self.names) > MAX_NAMES:
            raise InvalidExpression(f"query names more than {MAX_NAMES} events")
        return token


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def parse_query(pp: Store, text: object) -> Bitmap:
    """Parse ``text`` into an expression template (bind it to a period to evaluate)."""
    if not isinstance(text, str):
        raise InvalidExpression("query must be a string such as 'login & song:played'")
    if len(text) > MAX_LENGTH:
        raise InvalidExpression(f"query is longer than {MAX_LENGTH} characters")
    return _Parser(pp, text).parse()
