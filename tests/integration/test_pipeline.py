"""The vertical slice against the real broker, real Postgres and the real model."""

from __future__ import annotations

import dataclasses
import gc

import pytest

from tests.integration.running import HEADLINES, QUESTIONS, service_running, settings_for
from tests.kafka_helpers import fresh_topics, produce
from tests.waiting import wait_for_rows

pytestmark = pytest.mark.integration

async def test_consumes_scores_and_stores_both_streams_once(broker, database_url, db, scorer) -> None:
    news, customer = await fresh_topics(broker.bootstrap, partitions=3)
    n_news, n_customer = 200, 80
    await produce(
        broker.bootstrap,
        news,
        [{"id": f"n{i}", "headline": HEADLINES[i % len(HEADLINES)], "tickers": ["ztx"]} for i in range(n_news)],
    )
    await produce(
        broker.bootstrap,
        customer,
        [
            {"id": f"c{i}", "text": QUESTIONS[i % len(QUESTIONS)], "customer_id": f"cust-{i % 7}"}
            for i in range(n_customer)
        ],
    )
    await produce(broker.bootstrap, news, [b"{not json", {"headline": ""}, None])

    settings = settings_for(broker.bootstrap, database_url, news, customer)
    async with service_running(settings, scorer):
        assert await wait_for_rows(db, "scored_events", n_news + n_customer) == n_news + n_customer
        assert await wait_for_rows(db, "dead_letters", 3) == 3
        # What start-up built (the model among it) is kept out of the collector's full passes...
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0  # ...and given back when the service stops

    rows = await db.fetch("SELECT stream, sentiment, intent, entities, model_version FROM scored_events")
    assert {r["sentiment"] for r in rows} == {"negative", "neutral", "positive"}
    assert all(r["intent"] for r in rows if r["stream"] == "customer")
    assert all(r["intent"] is None for r in rows if r["stream"] == "news")
    assert all(r["entities"] == ["ZTX"] for r in rows if r["stream"] == "news")
    assert {r["model_version"] for r in rows} == {scorer.model_version}
    stolen = await db.fetchval("SELECT intent FROM scored_events WHERE message_id = 'c0'")
    assert stolen == "lost_or_stolen_card"
    reasons = sorted(r["reason"].split(":")[0] for r in await db.fetch("SELECT reason FROM dead_letters"))
    assert reasons == ["empty text", "invalid JSON", "tombstone"]

    # Every offset was committed: a second run of the same group reads nothing new.
    async with service_running(settings, scorer):
        await produce(broker.bootstrap, news, [{"id": "late-1", "headline": "Shares fall sharply"}])
        assert await wait_for_rows(db, "scored_events", n_news + n_customer + 1) == n_news + n_customer + 1
    assert await db.fetchval("SELECT count(*) FROM scored_events") == n_news + n_customer + 1
    assert await db.fetchval("SELECT count(*) FROM dead_letters") == 3


async def test_a_value_postgres_refuses_becomes_a_dead_letter_not_a_crash_loop(
    broker, database_url, db, scorer, monkeypatch
) -> None:
    """Validation refuses what it knows Postgres cannot store; this covers what it does not know."""
    import monitor.pipeline
    from monitor.processing import process_records

    def smuggle_nul(*args: object, **kwargs: object) -> object:
        rows = process_records(*args, **kwargs)  # type: ignore[arg-type]
        for i, event in enumerate(rows.events):
            if event.message.message_id == "bad":
                message = dataclasses.replace(event.message, text="NUL \x00 here")
                rows.events[i] = dataclasses.replace(event, message=message)
        return rows

    monkeypatch.setattr(monitor.pipeline, "process_records", smuggle_nul)
    news, customer = await fresh_topics(broker.bootstrap, partitions=1)
    values = [{"id": f"n{i}", "headline": HEADLINES[i % 5]} for i in range(20)]
    values.insert(7, {"id": "bad", "headline": "Card 4111 1111 1111 1111 in a refused row"})
    await produce(broker.bootstrap, news, values)

    settings = settings_for(broker.bootstrap, database_url, news, customer)
    async with service_running(settings, scorer):
        assert await wait_for_rows(db, "scored_events", 20) == 20
        assert await wait_for_rows(db, "dead_letters", 1) == 1
    letter = await db.fetchrow("SELECT source_offset, reason, raw FROM dead_letters")
    assert letter["source_offset"] == 7
    assert letter["reason"].startswith("Postgres refused a value")
    assert b"4111 11** **** 1111" in letter["raw"]
    assert not await db.fetchval("SELECT count(*) FROM scored_events WHERE message_id = 'bad'")
