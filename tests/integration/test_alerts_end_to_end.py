"""Alerts as a user sees them: Kafka -> real model -> Postgres -> signed webhooks."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiokafka import TopicPartition

from monitor.alerts.cli import show_open_alerts
from monitor.alerts.config import load_rules
from monitor.alerts.store import AlertStore
from monitor.db.connection import make_engine
from monitor.db.store import Store
from monitor.entities import EntityLinker
from monitor.kafka import ConsumerAdapter, make_consumer
from monitor.language_detection import shared_detector
from monitor.pipeline import Pipeline, PipelineOptions
from monitor.records import Scores, Stream
from monitor.tools.produce import Message
from monitor.tools.produce import produce as produce_messages
from monitor.tools.receiver import WebhookReceiver
from tests.integration.running import service_running, settings_for
from tests.kafka_helpers import fresh_topics, produce
from tests.waiting import until

pytestmark = pytest.mark.integration

SECRET = "whsec_" + base64.b64encode(b"end-to-end-test-secret-0001").decode()
FAIL_FOR_S = 20.0
"""As the issue says: the receiver answers 500 for the first 20 seconds."""
ZTX_HEADLINES = [
    "$ZTX shares plunge after profit warning and guidance cut",
    "$ZTX operating loss widens as demand collapses in Europe",
    "$ZTX sales fall sharply and the company cuts 2,000 jobs",
    "Zentrix shares plunge after profit warning",
    "$ZTX net loss deepens as revenue drops 30%",
    "$ZTX profit falls sharply on weak demand",
    "$ZTX posts bigger quarterly loss and warns on outlook",
]


async def test_done_when_scenario(
    broker, database_url: str, db: asyncpg.Connection, scorer
) -> None:  # type: ignore[no-untyped-def]
    news, customer = await fresh_topics(broker.bootstrap, partitions=3)
    now = datetime.now(UTC)
    await produce(
        broker.bootstrap,
        news,
        [
            {
                "id": f"ztx-{i}",
                "headline": h,
                "published_at": (now - timedelta(minutes=6 - i)).isoformat(),
            }
            for i, h in enumerate(ZTX_HEADLINES)
        ]
        + [
            {
                "id": "calm-1",
                "headline": "Board approves higher dividend after strong year",
                "tickers": ["ABC"],
            }
        ],
    )
    await produce(
        broker.bootstrap,
        customer,
        [
            {
                "id": "m1",
                "text": "My card was stolen this morning, please block it",
                "customer_id": "cust-42",
            },
            {
                "id": "m2",
                "text": "There is a payment on my statement I do not recognise",
                "customer_id": "cust-77",
            },
            {
                "id": "m3",
                "text": "What is the exchange rate for dollars today?",
                "customer_id": "cust-5",
            },
        ],
    )
    receiver = WebhookReceiver([SECRET], respond=lambda t: (500, {}) if t < FAIL_FOR_S else (200, {})).start()
    settings = settings_for(
        broker.bootstrap,
        database_url,
        news,
        customer,
        webhook_url=(receiver.url,),
        webhook_secret=SECRET,
        webhook_backoff_initial_s=0.3,
        webhook_backoff_max_s=4.0,
        dispatch_poll_interval_s=0.2,
    )
    try:
        async with service_running(settings, scorer):

            async def three_delivered() -> bool:
                return len(receiver.delivered) >= 3

            await until(three_delivered, 120.0, 0.2)
            await asyncio.sleep(1.5)  # anything delivered twice would show up now
    finally:
        receiver.stop()

    delivered = receiver.delivered
    assert sorted((d.payload["rule"], d.payload["entity"]) for d in delivered) == [
        ("fraud_intent", "cust-42"),
        ("fraud_intent", "cust-77"),
        ("negative_news_burst", "ZTX"),
    ]
    assert all(d.verified_with == [0] for d in receiver.requests)  # every request, failed ones too
    assert len({d.headers["webhook-id"] for d in delivered}) == 3
    ztx = next(d.payload for d in delivered if d.payload["entity"] == "ZTX")
    assert ztx["status"] == "firing" and ztx["severity"] == "high" and ztx["event_count"] >= 5
    # Each story is listed; the explained ones (a few representatives) name the words behind
    # their negative sentiment (issue 19).
    explained = [item for item in ztx["evidence_details"] if item.get("explanation")]
    assert explained and all(w["weight"] > 0 for item in explained for w in item["explanation"])
    failed = await db.fetchval("SELECT count(*) FROM alert_deliveries WHERE status_code = 500")
    ok = await db.fetchval("SELECT count(*) FROM alert_deliveries WHERE status_code = 200")
    assert failed >= 3 and ok == 3
    rows = await db.fetch("SELECT rule, entity, status, event_count FROM alerts ORDER BY entity")
    assert [(r["entity"], r["status"]) for r in rows] == [
        ("ZTX", "firing"),
        ("cust-42", "firing"),
        ("cust-77", "firing"),
    ]
    assert rows[0]["event_count"] == 7
    table = await show_open_alerts(database_url)
    assert table[0].split()[:4] == ["id", "rule", "severity", "entity"]
    assert any("negative_news_burst" in line and "ZTX" in line for line in table)


class LockedScorer:
    """Two pipelines in one process share one model; its tokenizer is not thread-safe."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.model_version = inner.model_version
        self.languages = inner.languages
        self.lock = threading.Lock()

    def score(self, texts: Sequence[str], streams: Sequence[Stream]) -> list[Scores]:
        with self.lock:
            return self.inner.score(texts, streams)  # type: ignore[no-any-return]


async def test_two_pipelines_on_different_partitions_raise_one_alert(
    broker,
    database_url: str,
    db: asyncpg.Connection,
    scorer,  # type: ignore[no-untyped-def]
) -> None:
    news, customer = await fresh_topics(broker.bootstrap, partitions=2)
    await produce_messages(  # 3 per partition; the rule needs 5
        broker.bootstrap,
        [
            Message(news, {"id": f"z{i}", "headline": headline}, partition=i % 2)
            for i, headline in enumerate(ZTX_HEADLINES[:6])
        ],
    )

    settings = settings_for(broker.bootstrap, database_url, news, customer)
    rules = load_rules()
    shared = LockedScorer(scorer)
    stop = asyncio.Event()
    runs, parts = [], []
    for partition in (0, 1):
        consumer = make_consumer(settings)
        await consumer.start()
        consumer.assign([TopicPartition(news, partition)])
        store = Store(make_engine(database_url), on_inserted=AlertStore(rules, ()))
        linker = EntityLinker.build(rules.aliases)
        pipeline = Pipeline(
            PipelineOptions.of(settings), ConsumerAdapter(consumer), shared, store, detector=shared_detector(),
            linker=linker,
        )
        parts.append((consumer, store))
        runs.append(asyncio.create_task(pipeline.run(stop)))
    try:

        async def all_scored() -> bool:
            return await db.fetchval("SELECT count(*) FROM scored_events") >= 6

        await until(all_scored, 60, 0.2)
        partitions = await db.fetch("SELECT DISTINCT source_partition FROM scored_events")
        assert sorted(r["source_partition"] for r in partitions) == [0, 1]
    finally:
        stop.set()
        await asyncio.gather(*runs)
        for consumer, store in parts:
            await consumer.stop()
            await store.close()
    rows = await db.fetch("SELECT rule, entity, event_count FROM alerts")
    assert [(r["rule"], r["entity"], r["event_count"]) for r in rows] == [
        ("negative_news_burst", "ZTX", 6)
    ]
    assert await db.fetchval("SELECT count(*) FROM alert_notifications") == 1
