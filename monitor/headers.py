"""Kafka headers as the service keeps them (pure): masked, stored as JSON, and the dead-letter
topic's headers in Kafka Connect's `__connect.errors.*` convention."""

from __future__ import annotations

import base64
from typing import Any

from monitor.masking import MaskTally
from monitor.records import DeadLetter, Headers

BINARY_KEY = "base64"
"""A header value that is not UTF-8 text is stored as `{"base64": "..."}` (its masked bytes)."""

CONNECT_ERRORS = "__connect.errors."
"""The prefix Kafka Connect gives the headers of a dead-letter record; tools that read Connect's
dead-letter queues read these."""


def mask_headers(headers: Headers, masking: MaskTally | None = None) -> Headers:
    """`headers` with personal identifiers masked in keys and values (values of any encoding)."""
    m = masking if masking is not None else MaskTally()
    return tuple((m.text(key), None if value is None else m.bytes(value)) for key, value in headers)


def _json_value(value: bytes | None) -> str | dict[str, str] | None:
    if value is None:
        return None
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and "\x00" not in text:  # Postgres JSONB cannot hold NUL
        return text
    return {BINARY_KEY: base64.b64encode(value).decode("ascii")}


def headers_json(headers: Headers) -> dict[str, Any]:
    """Headers as a JSON object for the `headers` column: key -> text (UTF-8 values), or
    `{"base64": ...}` for other bytes, or null; a key that repeats maps to the list of its values.

    Give it headers already masked (`mask_headers`): this only changes the representation.
    """
    out: dict[str, Any] = {}
    repeated: set[str] = set()
    for raw_key, value in headers:
        key = raw_key.replace("\x00", "\ufffd")
        item = _json_value(value)
        if key not in out:
            out[key] = item
        elif key in repeated:
            out[key].append(item)
        else:
            out[key] = [out[key], item]
            repeated.add(key)
    return out


def dead_letter_headers(letter: DeadLetter, connector_name: str) -> list[tuple[str, bytes]]:
    """The headers of the dead letter's record on the dead-letter topic: its origin and reason
    under Kafka Connect's names, then the original record's own (masked) headers."""
    errors = {
        "topic": letter.topic,
        "partition": str(letter.partition),
        "offset": str(letter.offset),
        "connector.name": connector_name,
        "exception.class.name": "monitor.DeadLetter",
        "exception.message": letter.reason,
    }
    own = [(key, value if value is not None else b"") for key, value in letter.headers]
    return [(CONNECT_ERRORS + name, value.encode()) for name, value in errors.items()] + own
