"""A second replica joins under load, then the first leaves: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from structlog.testing import capture_logs

from monitor.service import run_service
from tests.conftest import free_port
from tests.integration.test_pipeline import HEADLINES, settings_for, wait_for_rows
from tests.kafka_helpers import create_topics, produce

pytestmark = pytest.mark.integration


async def test_replica_joins_and_leaves_under_load(broker, database_url, db, scorer) -> None:
    news, customer = f"news-{uuid.uuid4().hex[:6]}", f"cust-{uuid.uuid4().hex[:6]}"
    await create_topics(broker.bootstrap, [news, customer], partitions=4)
    total = 2_400
    # No producer ids, so a replayed record would only be caught by its Kafka position.
    await produce(broker.bootstrap, news, [{"headline": f"{HEADLINES[i % 5]} #{i}"} for i in range(total)])
    settings = settings_for(broker.bootstrap, database_url, news, customer, max_poll_records=100)

    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    with capture_logs() as logs:
        replica_a = asyncio.create_task(run_service(settings, stop=stop_a, scorer=scorer))
        await wait_for_rows(db, "scored_events", 300)
        # Its own HTTP port: two replicas in one process cannot both listen on the same one.
        settings_b = settings.model_copy(update={"http_port": free_port()})
        replica_b = asyncio.create_task(run_service(settings_b, stop=stop_b, scorer=scorer))
        await wait_for_rows(db, "scored_events", 1_200)
        stop_a.set()  # leaves the group: B takes over A's partitions at once
        await asyncio.wait_for(replica_a, 30)
        try:
            assert await wait_for_rows(db, "scored_events", total, timeout=180) == total
        finally:
            stop_b.set()
            await asyncio.wait_for(replica_b, 30)

    assert await db.fetchval("SELECT count(*) FROM scored_events") == total
    partitions = {e["partition"] for e in logs if e["event"] == "batch committed"}
    assert partitions == {0, 1, 2, 3}
    # Both rebalances drained the work in flight before giving partitions up.
    assert sum(e["event"] == "drained before rebalance" for e in logs) >= 3
