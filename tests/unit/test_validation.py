from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from monitor.records import DeadLetter, Message, SourceRecord
from monitor.validation import Limits, validate

LIMITS = Limits(max_message_bytes=2_000, max_text_chars=500)
WHEN = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def record(value: object, offset: int = 7) -> SourceRecord:
    raw = value if isinstance(value, bytes) or value is None else json.dumps(value).encode()
    return SourceRecord("news", 2, offset, raw, WHEN)


def test_news_message_keeps_unknown_fields_and_takes_event_time_from_payload() -> None:
    out = validate(
        record({"id": "n-1", "headline": "Shares fall", "body": "Badly.", "tickers": ["ztx"],
                "published_at": "2026-11-24T09:30:00+01:00", "desk": "equities"}),
        "news",
        LIMITS,
    )
    assert isinstance(out, Message)
    assert out.message_id == "n-1"
    assert out.text == "Shares fall\n\nBadly."
    assert out.tickers == ("ZTX",)
    assert out.event_time == datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
    assert out.fields == {"tickers": ["ztx"], "published_at": "2026-11-24T09:30:00+01:00", "desk": "equities"}


def test_missing_id_falls_back_to_the_kafka_position() -> None:
    out = validate(record({"text": "where is my card?"}, offset=99), "customer", LIMITS)
    assert isinstance(out, Message)
    assert out.message_id == "news:2:99"
    assert out.event_time == WHEN


def test_numeric_ids_and_customer_ids_become_strings() -> None:
    out = validate(record({"id": 5, "text": "hi", "customer_id": 42}), "customer", LIMITS)
    assert isinstance(out, Message)
    assert (out.message_id, out.customer_id) == ("5", "42")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"{not json", "invalid JSON"),
        ([1, 2], "JSON value is list, not an object"),
        ({"headline": 5}, "wrong schema for a news message: headline"),
        ({"body": "no headline"}, "wrong schema for a news message: headline: Field required"),
        ({"headline": "   "}, "empty text"),
        ({"headline": "x" * 600}, "text is 600 characters, over the limit of 500"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (None, "tombstone"),
        (b"x" * 2_001, "message is 2001 bytes, over the limit of 2000"),
        ({"headline": "ok", "published_at": "yesterday-ish"}, "wrong schema for a news message: published_at"),
    ],
)
def test_bad_input_becomes_a_dead_letter_with_a_readable_reason(value: object, reason: str) -> None:
    out = validate(record(value), "news", LIMITS)
    assert isinstance(out, DeadLetter)
    assert out.reason.startswith(reason)
    assert (out.topic, out.partition, out.offset) == ("news", 2, 7)


def test_dead_letter_raw_bytes_are_masked() -> None:
    out = validate(record(b'{"text": "card 4111111111111111", '), "customer", LIMITS)
    assert isinstance(out, DeadLetter)
    assert out.raw == b'{"text": "card 411111******1111", '


def test_card_numbers_are_masked_in_text_fields_and_ids() -> None:
    out = validate(
        record({"id": "4111111111111111", "text": "stolen 5555-5555-5555-4444", "note": 4111111111111111}),
        "customer",
        LIMITS,
    )
    assert isinstance(out, Message)
    assert "5555-55**-****-4444" in out.text
    assert out.message_id == "411111******1111"
    assert out.fields == {"note": "411111******1111"}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"headline": "a\\u0000b"}', "unstorable text: a string contains NUL"),
        (b'{"headline": "ok", "note": ["x\\u0000"]}', "unstorable text: a string contains NUL"),
        (b'{"headline": "ok", "k\\u0000": 1}', "unstorable text: a string contains NUL"),
        (b'{"headline": "a\\ud800b"}', "unstorable text: a string contains a lone UTF-16 surrogate"),
        (b'{"headline": "ok", "x": NaN}', "invalid JSON: NaN is not a JSON value"),
        (b'{"headline": "ok", "x": -Infinity}', "invalid JSON: -Infinity is not a JSON value"),
        (b'{"headline": "ok", "x": 1e999}', "invalid JSON: 1e999 is out of range"),
        (b'{"headline": "ok", "x": ' + b"[" * 1500 + b"]" * 1500 + b"}", "invalid JSON: nested too deeply"),
        (b'{"headline": "ok", "x": ' + b"[" * 600 + b"]" * 600 + b"}", "invalid JSON: nested too deeply"),
        (b'{"headline": "ok", "x": 1' + b"0" * 5000 + b"}", "invalid JSON: Exceeds the limit"),
        (b'{"headline": "ok", "id": "' + b"i" * 513 + b'"}', "id is 513 characters, over the limit of 512"),
        (
            b'{"headline": "ok", "published_at": "0001-01-01T00:00:00+01:00"}',
            "wrong schema for a news message: published_at: out of range in UTC",
        ),
    ],
)
def test_values_postgres_cannot_store_become_dead_letters_not_failed_transactions(raw: bytes, reason: str) -> None:
    """Each of these once passed validation and made every write of its batch fail (a crash loop)."""
    out = validate(record(raw), "news", Limits(max_message_bytes=100_000, max_text_chars=500))
    assert isinstance(out, DeadLetter)
    assert out.reason.startswith(reason), out.reason
    assert out.raw == raw
