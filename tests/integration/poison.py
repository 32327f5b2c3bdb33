"""Poison records for the fault tests, and a scan of the whole database for a card number."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import asyncpg

MAX_MESSAGE_BYTES = 600
MAX_TEXT_CHARS = 200
"""Small limits (MONITOR_MAX_MESSAGE_BYTES, MONITOR_MAX_TEXT_CHARS) so over-limit input stays small."""


class Poison(NamedTuple):
    """One record that can never be scored, and how its dead letter's reason must begin."""

    kind: str
    value: Any
    """A dict is sent as JSON; bytes and None (a tombstone) as they are."""
    reason: str


_NEWS, _CUSTOMER = "wrong schema for a news message: ", "wrong schema for a customer message: "
_UNSTORABLE = "unstorable text: a string contains "

NEWS_POISON = (
    Poison("invalid JSON", b'{"headline": "half', "invalid JSON: Unterminated string starting at (line 1, column 14)"),
    Poison("JSON not an object", b'["ZTX", "falls"]', "JSON value is list, not an object"),
    Poison("wrong type", {"id": "p-type", "headline": 42}, _NEWS + "headline: Input should be a valid string"),
    Poison("missing text", {"id": "p-missing", "body": "no headline"}, _NEWS + "headline: Field required"),
    Poison("empty text", {"id": "p-empty", "headline": "  \n "}, "empty text: "),
    Poison(
        "text over the limit",
        {"id": "p-long", "headline": "x" * (MAX_TEXT_CHARS + 1)},
        f"text is {MAX_TEXT_CHARS + 1} characters, over the limit of {MAX_TEXT_CHARS}",
    ),
    Poison("message over the limit", {"id": "p-big", "headline": "ok", "pad": "y" * MAX_MESSAGE_BYTES}, "message is "),
    Poison("not UTF-8", b'{"headline": "caf\xe9 \xff"}', "not UTF-8: byte "),
    Poison("tombstone", None, "tombstone: "),
    Poison("NUL in text", b'{"id": "p-nul", "headline": "before\\u0000after"}', _UNSTORABLE + "NUL"),
    Poison("NaN", b'{"id": "p-nan", "headline": "ok", "price": NaN}', "invalid JSON: NaN is not a JSON value"),
    Poison("lone surrogate", b'{"id": "p-sur", "headline": "\\ud800"}', _UNSTORABLE + "a lone UTF-16 surrogate"),
)
CUSTOMER_POISON = (
    Poison("customer wrong type", {"id": "p-c-type", "text": ["a", "list"]}, _CUSTOMER + "text: Input should be"),
    Poison("customer missing text", {"id": "p-c-missing", "customer_id": "c1"}, _CUSTOMER + "text: Field required"),
)

_TEXTUAL = ("text", "character varying", "jsonb", "json", "bytea", "ARRAY")


async def tables_holding(db: asyncpg.Connection, digits: str) -> list[str]:
    """`table.column` for every text, JSON, bytea or array column whose value holds `digits`.

    Separators are ignored (a card written `4111 1111-1111 1111` is still found), and bytea is
    read byte for byte, so nothing the service stored can hide the number.
    """
    columns = await db.fetch(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'public' AND data_type = ANY($1::text[])",
        list(_TEXTUAL),
    )
    found = []
    for c in columns:
        value = f'"{c["column_name"]}"'
        expression = f"encode({value}, 'escape')" if c["data_type"] == "bytea" else f"{value}::text"
        # \D strips everything that is not a digit, so spaces, dashes and JSON punctuation vanish.
        hit = await db.fetchval(
            f'SELECT count(*) FROM "{c["table_name"]}"'
            f" WHERE regexp_replace({expression}, '\\D', '', 'g') LIKE '%' || $1 || '%'",
            digits,
        )
        if hit:
            found.append(f"{c['table_name']}.{c['column_name']}")
    return found


def digits_in(text: str) -> str:
    """`text` with everything but its digits removed."""
    return re.sub(r"\D", "", text)
