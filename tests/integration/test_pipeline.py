"""The vertical slice against the real broker, real Postgres and the real model."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from monitor.config import Settings
from monitor.ports import Scorer
from monitor.service import run_service
from tests.kafka_helpers import create_topics, produce

pytestmark = pytest.mark.integration

HEADLINES = [
    "ZTX shares plunge after profit warning and guidance cut",
    "Quarterly revenue rose 12% to a record, beating expectations",
    "The company will publish its annual report on March 3",
    "Operating loss widened as demand collapsed in Europe",
    "Board approves higher dividend after strong year",
]
QUESTIONS = [
    "My card was stolen this morning, please block it",
    "How long does a transfer to another country take?",
    "There is a payment on my statement I do not recognise",
    "What is the exchange rate for dollars today?",
]


@contextlib.asynccontextmanager
async def service_running(
    settings: Settings, scorer: Scorer, stop_within_s: float = 30.0
) -> AsyncIterator[asyncio.Task[None]]:
    """`monitor run` in this process for the block; then stopped (as by SIGTERM) and awaited, so
    an exception it raised fails the test."""
    stop = asyncio.Event()
    service = asyncio.create_task(run_service(settings, stop=stop, scorer=scorer))
    try:
        yield service
    finally:
        stop.set()
        await asyncio.wait_for(service, stop_within_s)


def settings_for(broker: str, database_url: str, news: str, customer: str, **extra: object) -> Settings:
    extra.setdefault("http_port", 0)  # several in-process replicas must not fight over one port
    return Settings(
        kafka_bootstrap_servers=(broker,),
        news_topics=(news,),
        customer_topics=(customer,),
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        database_url=database_url,
        device="cpu",
        **extra,
    )


async def wait_for_rows(db: asyncpg.Connection, table: str, expected: int, within_s: float = 120.0) -> int:
    deadline = asyncio.get_running_loop().time() + within_s
    count = 0
    while asyncio.get_running_loop().time() < deadline:
        count = await db.fetchval(f"SELECT count(*) FROM {table}")
        if count >= expected:
            return int(count)
        await asyncio.sleep(0.25)
    return int(count)


async def test_consumes_scores_and_stores_both_streams_once(broker, database_url, db, scorer) -> None:
    news, customer = f"news-{uuid.uuid4().hex[:6]}", f"cust-{uuid.uuid4().hex[:6]}"
    await create_topics(broker.bootstrap, [news, customer], partitions=3)
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
    news, customer = f"news-{uuid.uuid4().hex[:6]}", f"cust-{uuid.uuid4().hex[:6]}"
    await create_topics(broker.bootstrap, [news, customer], partitions=1)
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
