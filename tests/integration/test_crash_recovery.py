"""Kill the real service process mid-stream; the restart loses nothing and doubles nothing."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.integration.running import HEADLINES, service_env
from tests.integration.service_process import ServiceProcess
from tests.kafka_helpers import fresh_topics, produce
from tests.waiting import wait_for_rows

pytestmark = pytest.mark.integration


async def test_sigkill_halfway_then_restart_gives_every_message_exactly_once(broker, database_url, db) -> None:
    news, customer = await fresh_topics(broker.bootstrap, partitions=3)
    total = 3_000
    # No producer ids: the natural key is topic/partition/offset, the harder case for dedup.
    await produce(broker.bootstrap, news, [{"headline": f"{HEADLINES[i % 5]} ({i})"} for i in range(total)])
    env = service_env(broker.bootstrap, database_url, news, customer, f"g-{uuid.uuid4().hex[:6]}")

    first = ServiceProcess(env)
    first.start()
    try:
        assert await wait_for_rows(db, "scored_events", total // 2, within_s=180) >= total // 2
        first.kill()
    finally:
        first.close()
    at_kill = await db.fetchval("SELECT count(*) FROM scored_events")
    assert at_kill < total, "the service finished before it could be killed; raise the total"

    second = ServiceProcess(env)
    second.start()
    try:
        assert await wait_for_rows(db, "scored_events", total, within_s=240) == total
        await asyncio.sleep(2)  # anything extra would arrive now
        assert second.terminate() == 0
    finally:
        second.close()

    assert await db.fetchval("SELECT count(*) FROM scored_events") == total
    assert await db.fetchval("SELECT count(DISTINCT (source_partition, source_offset)) FROM scored_events") == total
    assert await db.fetchval("SELECT count(*) FROM dead_letters") == 0
    assert any(e.get("event") == "stopped" for e in second.events())


async def test_sigterm_under_load_finishes_commits_and_exits_zero(broker, database_url, db) -> None:
    news, customer = await fresh_topics(broker.bootstrap, partitions=2)
    total = 2_000
    await produce(broker.bootstrap, news, [{"id": f"m{i}", "headline": HEADLINES[i % 5]} for i in range(total)])
    env = service_env(broker.bootstrap, database_url, news, customer, f"g-{uuid.uuid4().hex[:6]}")

    service = ServiceProcess(env)
    service.start()
    try:
        await wait_for_rows(db, "scored_events", 300, within_s=180)
        assert service.terminate(timeout=25) == 0
    finally:
        service.close()
    stored = await db.fetchval("SELECT count(*) FROM scored_events")
    committed = [e for e in service.events() if e.get("event") == "batch committed"]
    assert committed, service.log_text()[-2000:]
    # Offsets committed == rows stored: the batch in flight at SIGTERM was written AND committed.
    committed_next = {}
    for e in committed:
        committed_next[(e["topic"], e["partition"])] = e["offset"] + 1
    assert sum(committed_next.values()) == stored

    # A restart picks up exactly where the committed offsets say.
    again = ServiceProcess(env)
    again.start()
    try:
        assert await wait_for_rows(db, "scored_events", total, within_s=240) == total
    finally:
        assert again.terminate() == 0
    assert await db.fetchval("SELECT count(*) FROM scored_events") == total
