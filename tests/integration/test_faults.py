"""Faults injected into an in-process service: a crash between the two commits, a stalled model,
a frozen broker. Each ends with every message in Postgres exactly once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence

import httpx
import pytest
import structlog
from aiokafka import AIOKafkaConsumer

import monitor.service
from monitor.config import Settings
from monitor.kafka import make_consumer
from monitor.pipeline import Pipeline
from monitor.ports import Scorer
from monitor.records import Scores, Stream
from monitor.service import run_service
from tests.integration.running import HEADLINES, service_running, settings_for
from tests.kafka_helpers import create_topics, produce
from tests.waiting import wait_for_rows, wait_for_status

pytestmark = pytest.mark.integration


class SimulatedCrash(Exception):
    """Raised where the process would die; nothing after it runs."""


async def topics_with_news(broker, total: int, partitions: int = 1) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    news, customer = f"news-{uuid.uuid4().hex[:6]}", f"cust-{uuid.uuid4().hex[:6]}"
    await create_topics(broker.bootstrap, [news, customer], partitions=partitions)
    await produce(broker.bootstrap, news, [{"headline": f"{HEADLINES[i % 5]} ({i})"} for i in range(total)])
    return news, customer


def committed_batches(logs: list[dict[str, object]]) -> list[dict[str, object]]:
    return [e for e in logs if e.get("event") == "batch committed"]


async def wait_for_commits(logs: list[dict[str, object]], total: int, within_s: float = 30.0) -> None:
    """Until the "batch committed" lines account for `total` records (rows reach Postgres a moment
    before their offsets commit and the line is logged)."""

    def committed() -> int:
        last: dict[tuple[object, object], int] = {}
        for e in committed_batches(logs):
            key = (e["topic"], e["partition"])
            last[key] = max(last.get(key, -1), int(e["offset"]))  # type: ignore[call-overload]
        return sum(offset + 1 for offset in last.values())

    async with asyncio.timeout(within_s):
        while committed() < total:  # noqa: ASYNC110 - the service logs from another task
            await asyncio.sleep(0.05)


async def test_killed_after_the_database_commit_before_the_offset_commit_resumes_from_postgres_offsets(
    broker, database_url, db, scorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    total = 300
    news, customer = await topics_with_news(broker, total)
    settings = settings_for(broker.bootstrap, database_url, news, customer, max_poll_records=100)

    def consumer_that_dies_committing(s: Settings) -> AIOKafkaConsumer:
        consumer = make_consumer(s)

        async def commit(offsets: object = None) -> None:
            raise SimulatedCrash("killed after the transaction, before the offsets reached Kafka")

        consumer.commit = commit  # type: ignore[method-assign]
        return consumer

    monkeypatch.setattr(monitor.service, "make_consumer", consumer_that_dies_committing)
    with pytest.raises(ExceptionGroup) as crashed:
        await asyncio.wait_for(run_service(settings, stop=asyncio.Event(), scorer=scorer), 60)
    assert crashed.group_contains(SimulatedCrash)
    at_crash = await db.fetchval("SELECT count(*) FROM scored_events")
    assert 0 < at_crash < total, "the first batch was written, and nothing after it"

    monkeypatch.undo()
    with structlog.testing.capture_logs() as logs:
        async with service_running(settings, scorer):
            assert await wait_for_rows(db, "scored_events", total, within_s=60) == total
            await wait_for_commits(logs, total)

    assert await db.fetchval("SELECT count(*) FROM scored_events") == total
    batches = committed_batches(logs)
    scored = sum(int(b["scored"]) for b in batches)  # type: ignore[call-overload]
    inserted = sum(int(b["inserted"]) for b in batches)  # type: ignore[call-overload]
    # Kafka never got the crashed batch's offsets, but Postgres has them with its rows: the restart
    # seeks there, so that batch is neither fetched again nor doubled, and nothing is lost.
    assert scored == total - at_crash
    assert inserted == total - at_crash
    resumed = batches[0]  # one partition: one log line per batch
    assert int(resumed["inserted"]) == int(resumed["scored"])  # type: ignore[call-overload]
    assert any(e.get("event") == "seeked to the stored offsets" for e in logs)


class StalledScorer:
    """The real model, but the first call stalls longer than the consumer's max poll interval."""

    def __init__(self, inner: Scorer, stall_s: float) -> None:
        self.inner = inner
        self.model_version = inner.model_version
        self.languages = inner.languages
        self.stall_s = stall_s
        self.calls = 0

    def score(self, texts: Sequence[str], streams: Sequence[Stream]) -> list[Scores]:
        self.calls += 1
        if self.calls == 1:
            time.sleep(self.stall_s)
        return self.inner.score(texts, streams)


async def test_a_batch_slower_than_max_poll_interval_causes_no_rebalance_and_is_written_once(
    broker, database_url, db, scorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    total = 400
    news, customer = await topics_with_news(broker, total, partitions=2)
    poll_interval_ms = 2_000
    settings = settings_for(
        broker.bootstrap, database_url, news, customer,
        max_poll_records=100, max_poll_interval_ms=poll_interval_ms, session_timeout_ms=6_000,
    )
    joins = 0
    joined = Pipeline.joined

    async def counting_joined(self: Pipeline) -> None:
        nonlocal joins
        joins += 1
        await joined(self)

    monkeypatch.setattr(Pipeline, "joined", counting_joined)
    stalled = StalledScorer(scorer, stall_s=poll_interval_ms / 1000 * 3)
    with structlog.testing.capture_logs() as logs:
        async with service_running(settings, stalled):
            assert await wait_for_rows(db, "scored_events", total, within_s=90) == total
            await wait_for_commits(logs, total)

    assert stalled.calls >= 2
    assert joins == 1, f"the group rebalanced {joins - 1} times"
    assert not [e for e in logs if "commit failed" in str(e.get("event"))]
    assert await db.fetchval("SELECT count(*) FROM scored_events") == total
    batches = committed_batches(logs)
    assert sum(int(b["inserted"]) for b in batches) == sum(int(b["scored"]) for b in batches)  # type: ignore[call-overload]


async def test_broker_frozen_for_15_s_the_service_is_unready_then_reconnects_by_itself_and_finishes(
    broker, database_url, db, scorer, _free_http_port
) -> None:
    first, second = 300, 300
    news, customer = await topics_with_news(broker, first, partitions=2)
    settings = settings_for(
        broker.bootstrap, database_url, news, customer, max_poll_records=100, http_port=_free_http_port
    )
    async with service_running(settings, scorer, stop_within_s=60) as service:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{_free_http_port}", timeout=5) as http:
            assert await wait_for_rows(db, "scored_events", first, within_s=60) == first
            assert await wait_for_status(http, "/readyz", 200, within_s=10) == 200
            broker.pause()
            frozen_at = time.monotonic()
            try:
                # No fetch answered for a session timeout (10 s): not ready, but alive.
                assert await wait_for_status(http, "/readyz", 503, within_s=14) == 503
                assert (await http.get("/healthz")).status_code == 200
                await asyncio.sleep(max(0.0, 15 - (time.monotonic() - frozen_at)))
                assert not service.done(), "the service gave up while the broker was away"
            finally:
                broker.resume()
            await produce(broker.bootstrap, news, [{"headline": f"after the outage ({i})"} for i in range(second)])
            assert await wait_for_rows(db, "scored_events", first + second, within_s=120) == first + second
            assert await wait_for_status(http, "/readyz", 200, within_s=10) == 200
        assert not service.done()
    assert await db.fetchval("SELECT count(*) FROM scored_events") == first + second
