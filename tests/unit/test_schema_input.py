"""Schema Registry input, headers and dead-letter headers: the pure rules, with a fake decoder."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
from typing import Any

import pytest

from monitor.errors import BadRecord, RegistryUnavailable
from monitor.framing import Frame, is_framed, read_frame
from monitor.headers import dead_letter_headers, headers_json, mask_headers
from monitor.records import DeadLetter, Headers, Message, SourceRecord
from monitor.validation import Limits, validate
from tests.fakes import FakeDecoder, framed

CARD = "4111 1111 1111 1111"
MASKED = "4111 11** **** 1111"


def record(value: bytes | None, headers: Headers = (), topic: str = "news") -> SourceRecord:
    return SourceRecord(topic, 1, 7, value, None, headers)


# -- framing ---------------------------------------------------------------------------------


def test_the_wire_format_is_magic_byte_zero_then_a_big_endian_schema_id() -> None:
    assert is_framed(framed(258)) and not is_framed(b'{"headline": "x"}') and not is_framed(b"")
    assert read_frame(framed(258, b"abc")) == Frame(258, b"abc")
    assert read_frame(b"\x00\x00\x01") == "truncated Confluent wire format: 3 bytes, the header alone needs 5"


# -- validation of decoded records -------------------------------------------------------------


def test_a_decoded_record_meets_the_same_schema_validation_and_masking_as_json() -> None:
    decoder = FakeDecoder({3: {"id": "n1", "headline": f"Card {CARD} leaked", "tickers": ["ztx"], "note": CARD}})
    out = validate(record(framed(3), (("trace-id", b"abc"),)), "news", Limits(), decoder)
    assert isinstance(out, Message)
    assert (out.message_id, out.tickers, out.text) == ("n1", ("ZTX",), f"Card {MASKED} leaked")
    assert out.fields == {"tickers": ["ztx"], "note": MASKED}
    assert out.headers == (("trace-id", b"abc"),)
    assert decoder.calls == [("news", 3)]


def test_a_decoded_customer_record_keeps_its_customer_id() -> None:
    decoder = FakeDecoder({4: {"id": "c1", "text": "my card was stolen", "customer_id": "cust-9"}})
    out = validate(record(framed(4), topic="cust"), "customer", Limits(), decoder)
    assert isinstance(out, Message) and out.customer_id == "cust-9"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (BadRecord("unknown to the schema registry (Schema not found)"), "schema id 9: unknown to the schema registry"),
        (BadRecord("cannot decode the Avro payload: EOFError"), "schema id 9: cannot decode the Avro payload"),
        ({"id": "x", "headline": 5}, "wrong schema for a news message: headline: Input should be a valid string"),
        ({"id": "x", "headline": "a\x00b"}, "schema id 9: unstorable text: a string contains NUL"),
    ],
)
def test_bad_framed_input_is_a_dead_letter_whose_reason_names_the_schema_id(answer: Any, reason: str) -> None:
    value = framed(9, f"{CARD}".encode())
    out = validate(record(value, (("k", CARD.encode()),)), "news", Limits(), FakeDecoder({9: answer}))
    assert isinstance(out, DeadLetter)
    assert out.reason.startswith(reason), out.reason
    assert out.raw is not None and CARD.encode() not in out.raw
    assert out.headers == (("k", MASKED.encode()),)


def test_a_truncated_header_and_a_frame_without_a_registry_are_dead_letters() -> None:
    short = validate(record(b"\x00\x00"), "news", Limits(), FakeDecoder({}))
    assert isinstance(short, DeadLetter) and short.reason.startswith("truncated Confluent wire format: 2 bytes")
    bare = validate(record(framed(5)), "news", Limits(), None)
    assert isinstance(bare, DeadLetter)
    assert bare.reason.startswith("schema id 5: ") and "MONITOR_SCHEMA_REGISTRY_URL" in bare.reason


def test_an_unreachable_registry_is_an_outage_not_a_dead_letter() -> None:
    decoder = FakeDecoder({2: RegistryUnavailable("schema registry unavailable for schema id 2: ConnectError")})
    with pytest.raises(RegistryUnavailable):
        validate(record(framed(2)), "news", Limits(), decoder)


def test_plain_json_and_unframed_text_keep_their_rules_beside_a_decoder() -> None:
    decoder = FakeDecoder({})
    ok = validate(record(json.dumps({"headline": "ZTX rises"}).encode()), "news", Limits(), decoder)
    assert isinstance(ok, Message)
    text = validate(record(b"just some text"), "news", Limits(), decoder)
    assert isinstance(text, DeadLetter) and text.reason.startswith("invalid JSON: ")
    assert decoder.calls == []


def test_the_size_limit_applies_before_decoding() -> None:
    decoder = FakeDecoder({1: {"headline": "x"}})
    out = validate(record(framed(1, b"x" * 100)), "news", Limits(max_message_bytes=50), decoder)
    assert isinstance(out, DeadLetter) and out.reason.startswith("message is 105 bytes")
    assert decoder.calls == []


# -- headers ---------------------------------------------------------------------------------


def test_headers_are_stored_as_text_when_utf8_else_base64_masked_and_repeated_keys_listed() -> None:
    raw = (
        ("trace-id", b"0af7651916cd43dd"),
        ("card", f"paid with {CARD}".encode()),
        ("bin", b"\xff\x00" + CARD.replace(" ", "").encode()),
        ("hop", b"a"),
        ("hop", b"b"),
        ("hop", None),
        ("empty", None),
    )
    masked = mask_headers(raw)
    stored = headers_json(masked)
    assert stored["trace-id"] == "0af7651916cd43dd"
    assert stored["card"] == f"paid with {MASKED}"
    binary = base64.b64decode(stored["bin"]["base64"])
    assert binary.startswith(b"\xff\x00") and CARD.replace(" ", "").encode() not in binary
    assert stored["hop"] == ["a", "b", None]
    assert stored["empty"] is None
    assert CARD.replace(" ", "") not in json.dumps(stored).replace(" ", "")


def test_a_text_header_holding_nul_is_stored_as_base64_since_jsonb_cannot_hold_nul() -> None:
    assert headers_json((("k", b"a\x00b"),)) == {"k": {"base64": base64.b64encode(b"a\x00b").decode()}}


def test_dead_letter_headers_follow_kafka_connects_names_then_the_records_own() -> None:
    letter = DeadLetter("news", 2, 41, "schema id 9: unknown to the schema registry", b"raw", (("trace-id", b"t1"),))
    headers = dict(dead_letter_headers(letter, "monitor"))
    assert headers["__connect.errors.topic"] == b"news"
    assert headers["__connect.errors.partition"] == b"2"
    assert headers["__connect.errors.offset"] == b"41"
    assert headers["__connect.errors.exception.message"] == b"schema id 9: unknown to the schema registry"
    assert headers["__connect.errors.connector.name"] == b"monitor"
    assert headers["trace-id"] == b"t1"


# -- the registry edge's plain-JSON rule (no registry needed) ---------------------------------


def test_decoded_values_become_plain_json() -> None:
    registry = pytest.importorskip("monitor.registry")
    when = dt.datetime(2026, 12, 1, 10, 30, tzinfo=dt.UTC)
    value = {"at": when, "day": dt.date(2026, 12, 1), "price": decimal.Decimal("1.50"), "raw": b"\x01", "xs": (1, 2)}
    assert registry.plain_json(value) == {
        "at": "2026-12-01T10:30:00+00:00",
        "day": "2026-12-01",
        "price": "1.50",
        "raw": "AQ==",
        "xs": [1, 2],
    }
    with pytest.raises(BadRecord):
        registry.plain_json({"x": float("nan")})
