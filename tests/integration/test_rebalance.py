"""A second replica joins under load, then the first leaves: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from structlog.testing import capture_logs

from monitor.batch import CommittedBatch
from monitor.service import run_service
from tests.integration.running import HEADLINES, settings_for
from tests.kafka_helpers import fresh_topics, produce
from tests.waiting import wait_for_rows

pytestmark = pytest.mark.integration


async def test_replica_joins_and_leaves_under_load(broker, database_url, db, scorer) -> None:
    news, customer = await fresh_topics(broker.bootstrap, partitions=4)
    total = 2_400
    # No producer ids, so a replayed record would only be caught by its Kafka position.
    await produce(broker.bootstrap, news, [{"headline": f"{HEADLINES[i % 5]} #{i}"} for i in range(total)])
    settings = settings_for(broker.bootstrap, database_url, news, customer, max_poll_records=100)

    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    committed = {"a": 0, "b": 0}

    def counter(name: str) -> Callable[[CommittedBatch], None]:
        def count(batch: CommittedBatch) -> None:
            committed[name] += len(batch.records)

        return count

    with capture_logs() as logs:
        replica_a = asyncio.create_task(run_service(settings, stop=stop_a, scorer=scorer, on_committed=counter("a")))
        await wait_for_rows(db, "scored_events", 300)
        replica_b = asyncio.create_task(run_service(settings, stop=stop_b, scorer=scorer, on_committed=counter("b")))
        await wait_for_rows(db, "scored_events", 1_200)
        stop_a.set()  # leaves the group: B takes over A's partitions at once
        await asyncio.wait_for(replica_a, 30)
        try:
            assert await wait_for_rows(db, "scored_events", total, within_s=180) == total
        finally:
            stop_b.set()
            await asyncio.wait_for(replica_b, 30)

    assert await db.fetchval("SELECT count(*) FROM scored_events") == total
    partitions = {e["partition"] for e in logs if e["event"] == "batch committed"}
    assert partitions == {0, 1, 2, 3}
    # Both replicas did real work, and (drained before every revoke) no batch was committed twice.
    assert committed["a"] > 0 and committed["b"] > 0
    assert committed["a"] + committed["b"] == total
    assert any(e["event"] == "drained before rebalance" for e in logs)
