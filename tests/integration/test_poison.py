"""Poison input among good messages: one readable dead letter each, the rest scored, no crash."""

from __future__ import annotations

import asyncio
import string

import pytest

from tests.integration.poison import CUSTOMER_POISON, MAX_MESSAGE_BYTES, MAX_TEXT_CHARS, NEWS_POISON, Poison
from tests.integration.running import HEADLINES, QUESTIONS, service_running, settings_for
from tests.kafka_helpers import fresh_topics, produce
from tests.waiting import wait_for_rows

pytestmark = pytest.mark.integration

GOOD_BETWEEN = 3
"""Good messages before and after every poison record."""


def interleave(poison: tuple[Poison, ...], good: list[dict[str, str]]) -> list[object]:
    values: list[object] = []
    chunks = [good[i : i + GOOD_BETWEEN] for i in range(0, len(good), GOOD_BETWEEN)]
    for i, chunk in enumerate(chunks):
        values.extend(chunk)
        if i < len(poison):
            values.append(poison[i].value)
    return values


async def test_every_poison_kind_becomes_one_readable_dead_letter_and_the_stream_goes_on(
    broker, database_url, db, scorer
) -> None:
    news, customer = await fresh_topics(broker.bootstrap, partitions=2)
    n_news, n_customer = GOOD_BETWEEN * (len(NEWS_POISON) + 1), GOOD_BETWEEN * (len(CUSTOMER_POISON) + 1)
    good_news = [{"id": f"n{i}", "headline": HEADLINES[i % 5]} for i in range(n_news)]
    good_customer = [{"id": f"c{i}", "text": QUESTIONS[i % 4]} for i in range(n_customer)]
    await produce(broker.bootstrap, news, interleave(NEWS_POISON, good_news))
    await produce(broker.bootstrap, customer, interleave(CUSTOMER_POISON, good_customer))
    n_good, n_poison = len(good_news) + len(good_customer), len(NEWS_POISON) + len(CUSTOMER_POISON)

    settings = settings_for(
        broker.bootstrap, database_url, news, customer,
        max_message_bytes=MAX_MESSAGE_BYTES, max_text_chars=MAX_TEXT_CHARS,
        max_poll_records=10,  # several batches, so poison sits in batches with good messages
    )
    # Leaving the block awaits the service: a clean return, no exception, means it never crashed.
    async with service_running(settings, scorer) as service:
        assert await wait_for_rows(db, "scored_events", n_good) == n_good
        assert await wait_for_rows(db, "dead_letters", n_poison) == n_poison
        await asyncio.sleep(1)  # anything doubled or late would land now
        assert not service.done(), "the service stopped on poison input"

    ids = {r["message_id"] for r in await db.fetch("SELECT message_id FROM scored_events")}
    assert ids == {m["id"] for m in good_news + good_customer}
    assert await db.fetchval("SELECT count(*) FROM scored_events") == n_good

    dead = await db.fetch("SELECT source_topic, reason, raw FROM dead_letters ORDER BY source_topic, id")
    assert len(dead) == n_poison
    for topic, poison in ((news, NEWS_POISON), (customer, CUSTOMER_POISON)):
        reasons = sorted(r["reason"] for r in dead if r["source_topic"] == topic)
        assert len(reasons) == len(poison)
        for p in poison:
            matching = [r for r in reasons if r.startswith(p.reason)]
            assert len(matching) == 1, f"{p.kind}: expected one reason starting {p.reason!r} in {reasons}"
        for reason in reasons:  # a person can read it: printable words, no control characters
            assert len(reason) >= 10
            assert all(c in string.printable for c in reason), reason
    tombstones = [r for r in dead if r["reason"].startswith("tombstone")]
    assert len(tombstones) == 1
    assert tombstones[0]["raw"] is None
    assert all(r["raw"] is not None for r in dead if not r["reason"].startswith("tombstone"))
