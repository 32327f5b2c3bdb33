"""When Kafka forgets (issue 28): a topic deleted and re-created under a running service.

The real service, broker and model: 1,000 news messages over two partitions (Postgres stores
offset 500 for each), then the topic is deleted and created again (a broker that lost its disk, a
cluster rebuilt, a switch to another cluster look the same to a consumer) and refilled. Every
message of both logs must land once, with or without producer ids, whether the new log grows past
the stored offsets or stays below them, and the operator must hear of it: a `kafka_log_events` row
per partition, one `kafka_log_changed` alert for the topic, and the metric.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from monitor.metrics import Metrics
from monitor.service import run_service
from tests.integration.running import settings_for
from tests.kafka_helpers import create_topics, fresh_topics, produce
from tests.waiting import wait_for_rows

pytestmark = pytest.mark.integration

BEFORE = 1_000


def headlines(label: str, count: int, *, ids: bool) -> list[dict[str, object]]:
    return [
        {"headline": f"Market update {label} {i}: shares steady", **({"id": f"{label}-{i}"} if ids else {})}
        for i in range(count)
    ]


async def recreate(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
    finally:
        await admin.close()
    await create_topics(bootstrap, [topic], partitions=partitions)


@pytest.mark.parametrize(
    ("after", "ids", "while_stopped"),
    [(1_400, True, False), (1_400, False, False), (400, True, False), (1_400, False, True)],
    ids=["new-log-past-the-stored-offsets", "no-producer-ids", "new-log-below-the-stored-offsets", "while-stopped"],
)
async def test_a_topic_recreated_under_the_service_is_read_whole_and_reported(
    broker, database_url, db, scorer, *, after: int, ids: bool, while_stopped: bool
) -> None:
    """`while_stopped`: the topic is replaced while the service is down; the next start's
    assignment seeks to the stored positions and finds the log is not the one they were read in."""
    news, customer = await fresh_topics(broker.bootstrap, partitions=2)
    settings = settings_for(broker.bootstrap, database_url, news, customer, log_check_interval_s=1.0)
    metrics = Metrics()
    await produce(broker.bootstrap, news, headlines("before", BEFORE, ids=ids))

    stop = asyncio.Event()
    service = asyncio.create_task(run_service(settings, stop=stop, scorer=scorer, metrics=metrics))
    try:
        assert await wait_for_rows(db, "scored_events", BEFORE) == BEFORE
        rows = await db.fetch("SELECT partition, next_offset FROM consumer_offsets WHERE topic = $1", news)
        stored = {r["partition"]: r["next_offset"] for r in rows}
        assert sum(stored.values()) == BEFORE and len(stored) == 2

        if while_stopped:
            stop.set()
            await asyncio.wait_for(service, 30)
        await recreate(broker.bootstrap, news, partitions=2)
        await produce(broker.bootstrap, news, headlines("after", after, ids=ids))
        if while_stopped:
            stop.clear()
            service = asyncio.create_task(run_service(settings, stop=stop, scorer=scorer, metrics=metrics))
        assert await wait_for_rows(db, "scored_events", BEFORE + after, within_s=180) == BEFORE + after
        assert await wait_for_rows(db, "kafka_log_events", 2, within_s=30) == 2
        await asyncio.sleep(3)  # anything doubled would land now
    finally:
        stop.set()
        await asyncio.wait_for(service, 30)

    assert await db.fetchval("SELECT count(*) FROM scored_events") == BEFORE + after
    assert await db.fetchval("SELECT count(DISTINCT message_id) FROM scored_events") == BEFORE + after
    events = await db.fetch("SELECT partition, kind, position, resumed_at, incarnation FROM kafka_log_events")
    # Replaced (another record where ours was) or truncated (the log ends before our position),
    # whichever a check saw first: both are read from the new log's start, in incarnation 1.
    assert sorted((e["partition"], e["position"], e["resumed_at"], e["incarnation"]) for e in events) == [
        (0, stored[0], 0, 1),
        (1, stored[1], 0, 1),
    ]
    kinds = {e["kind"] for e in events}
    assert kinds <= {"replaced", "truncated"}
    if after < BEFORE // 2:
        assert kinds == {"truncated"}, "a new log below the stored offsets ends before them"
    alerts = await db.fetch("SELECT entity, severity, evidence_details FROM alerts WHERE rule = 'kafka_log_changed'")
    assert [(a["entity"], a["severity"]) for a in alerts] == [(news, "high")], "one alert for the topic"
    assert sum(metrics.kafka_log_changes.labels(news, kind)._value.get() for kind in kinds) == 2
    if not ids:
        keys = {r["message_id"] for r in await db.fetch("SELECT message_id FROM scored_events")}
        assert f"{news}:0:0/1" in keys and f"{news}:0:0" in keys, "the new log's offset 0 is not the old one's"


async def test_a_topic_replaced_mid_stream_lands_the_new_log_once_and_reports_the_old_logs_unread_range(
    broker, database_url, db, scorer
) -> None:
    """The soak's extra fault: the topic replaced while a backlog is being read. What the new log
    holds lands once; what the old log held and was never read is reported as lost, offset by offset."""
    old, new = 1_500, 600
    news, customer = await fresh_topics(broker.bootstrap, partitions=2)
    await produce(broker.bootstrap, news, headlines("old", old, ids=True))
    settings = settings_for(
        broker.bootstrap, database_url, news, customer, log_check_interval_s=1.0, max_poll_records=64
    )
    metrics = Metrics()
    stop = asyncio.Event()
    service = asyncio.create_task(run_service(settings, stop=stop, scorer=scorer, metrics=metrics))
    try:
        assert await wait_for_rows(db, "scored_events", 300) >= 300
        await recreate(broker.bootstrap, news, partitions=2)
        await produce(broker.bootstrap, news, headlines("new", new, ids=True))
        assert await wait_for_rows(db, "kafka_log_events", 2, within_s=60) == 2
        landed = "SELECT count(*) FROM scored_events WHERE message_id LIKE 'new-%'"
        read_of_old = await db.fetchval("SELECT count(*) FROM scored_events WHERE message_id LIKE 'old-%'")
        assert await wait_for_rows(db, "scored_events", read_of_old + new) == read_of_old + new
        await asyncio.sleep(3)  # anything doubled would land now
    finally:
        stop.set()
        await asyncio.wait_for(service, 30)

    assert await db.fetchval(landed) == new
    assert await db.fetchval("SELECT count(*) FROM scored_events") == await db.fetchval(
        "SELECT count(DISTINCT message_id) FROM scored_events"
    )
    assert read_of_old < old, "the topic was replaced before the backlog was read"
    events = await db.fetch("SELECT position, lost_from, lost_to, lost_count FROM kafka_log_events")
    assert all(e["lost_from"] == e["position"] and e["lost_count"] == e["lost_to"] - e["lost_from"] for e in events)
    assert read_of_old + sum(e["lost_count"] for e in events) == old, "every old record read or reported lost"
    assert metrics.kafka_records_lost.labels(news)._value.get() == old - read_of_old
