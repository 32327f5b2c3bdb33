"""The demo's sample stream exercises what it claims to: a burst, fraud intents, masking, dead letters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from monitor.entities import extract_entities
from monitor.masking import luhn_valid, mask_text
from monitor.records import DeadLetter, Message, SourceRecord
from monitor.tools.demo.stream import (
    BURST_TICKER,
    CARD_NUMBER,
    CHINESE_FRAUD_CUSTOMER,
    SPAN,
    STOLEN_CARD_CUSTOMER,
    UNRECOGNISED_PAYMENT_CUSTOMER,
    SampleRecord,
    sample_stream,
)
from monitor.validation import Limits, validate

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
RULE_WINDOW = timedelta(minutes=15)
"""The shipped negative_news_burst rule: at least 5 negative items about one entity in 15 minutes."""


def _validated(records: list[SampleRecord]) -> list[Message | DeadLetter]:
    out = []
    for offset, record in enumerate(records):
        source = SourceRecord(f"demo-{record.stream}", 0, offset, record.value)
        out.append(validate(source, record.stream, Limits()))
    return out


@pytest.fixture(scope="module")
def records() -> list[SampleRecord]:
    return sample_stream(START, prefix="t1")


@pytest.fixture(scope="module")
def messages(records: list[SampleRecord]) -> list[Message]:
    return [m for m in _validated(records) if isinstance(m, Message)]


def test_ids_are_unique_and_carry_the_prefix(records: list[SampleRecord], messages: list[Message]) -> None:
    ids = [m.message_id for m in messages]
    assert len(ids) == len(set(ids)) == len([r for r in records if not r.malformed])
    assert all(i.startswith("t1-") for i in ids)
    other_run = {m.message_id for m in _validated(sample_stream(START, prefix="t2")) if isinstance(m, Message)}
    assert not other_run & set(ids)


def test_exactly_the_malformed_records_become_dead_letters(records: list[SampleRecord]) -> None:
    outcomes = _validated(records)
    assert [isinstance(o, DeadLetter) for o in outcomes] == [r.malformed for r in records]
    assert sum(r.malformed for r in records) >= 2


def test_stream_is_in_event_time_order_within_its_span(records: list[SampleRecord]) -> None:
    times = [r.event_time for r in records]
    assert times == sorted(times)
    assert times[0] >= START and times[-1] <= START + SPAN


def test_burst_of_bad_news_fits_in_the_rule_window(messages: list[Message]) -> None:
    burst = sorted(
        m.event_time for m in messages if m.stream == "news" and BURST_TICKER in extract_entities(m) and m.event_time
    )
    # The fullest 5-minute stretch holds at least 7 items: "a burst within a few minutes".
    best = max(sum(1 for t in burst if first <= t <= first + timedelta(minutes=5)) for first in burst)
    assert best >= 7
    assert burst[-1] - burst[0] <= RULE_WINDOW


def test_burst_items_name_the_ticker_by_field_and_by_cashtag(messages: list[Message]) -> None:
    ztx = [m for m in messages if BURST_TICKER in extract_entities(m)]
    assert any(m.tickers for m in ztx)
    assert any(not m.tickers and f"${BURST_TICKER}" in m.text for m in ztx)


def test_several_tickers(messages: list[Message]) -> None:
    tickers = {e for m in messages if m.stream == "news" for e in extract_entities(m)}
    assert len(tickers) >= 4


def test_card_number_is_luhn_valid_so_masking_is_exercised(
    records: list[SampleRecord], messages: list[Message]
) -> None:
    digits = CARD_NUMBER.replace(" ", "")
    assert 13 <= len(digits) <= 19 and luhn_valid(digits)
    assert mask_text(CARD_NUMBER) != CARD_NUMBER
    assert any(CARD_NUMBER.encode() in r.value for r in records)  # the raw record carries it in clear ...
    assert not any(CARD_NUMBER in m.text or digits in m.text for m in messages)  # ... nothing stored does
    assert any(mask_text(CARD_NUMBER) in m.text for m in messages if m.customer_id == STOLEN_CARD_CUSTOMER)


def test_fraud_customers_and_ordinary_questions(messages: list[Message]) -> None:
    customers = [m.customer_id for m in messages if m.stream == "customer"]
    assert STOLEN_CARD_CUSTOMER in customers
    assert UNRECOGNISED_PAYMENT_CUSTOMER in customers
    assert CHINESE_FRAUD_CUSTOMER in customers
    assert len(set(customers)) >= 10


def test_records_are_keyed_by_entity(records: list[SampleRecord]) -> None:
    for record in records:
        assert record.key
        if record.stream == "customer" and not record.malformed:
            assert json.loads(record.value)["customer_id"] == record.key
