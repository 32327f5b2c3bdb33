"""scored_events in daily partitions on a real Postgres: rows find their day, replays insert
nothing across partitions, retention drops whole days, and 0004 keeps the rows it migrates."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from monitor.db.connection import make_engine
from monitor.db.migrate import downgrade, upgrade
from monitor.db.partitions import list_partitions, maintain_partitions, partition_name
from monitor.db.store import Store
from tests.alert_helpers import batch, news_event

pytestmark = pytest.mark.integration

DAY_S = 86_400.0
INDEXES_PER_PARTITION = 7
"""The primary key and the six indexes declared on the parent (natural key, event_time,
entities, the two analyst indexes, and story_id)."""


async def where_rows_live(db: asyncpg.Connection) -> dict[str, str]:
    rows = await db.fetch("SELECT message_id, tableoid::regclass::text AS part FROM scored_events")
    return {r["message_id"]: r["part"] for r in rows}


async def test_rows_find_their_day_replays_insert_nothing_and_retention_drops_days(
    database_url: str, db: asyncpg.Connection
) -> None:
    store = Store(make_engine(database_url))
    try:
        now = datetime.now(UTC)
        first = await maintain_partitions(store.engine, retention_days=0, now=now)
        assert first.created == tuple(partition_name((now + timedelta(days=n)).date()) for n in range(8))

        events = [
            news_event("today"),
            news_event("three-days-ago", age_s=3 * DAY_S),
            news_event("year-2001", age_s=(now - datetime(2001, 9, 1, tzinfo=UTC)).total_seconds()),
        ]
        written = await store.write(batch(*events))
        assert len(written.inserted_event_ids) == 3
        three_days_ago = partition_name((now - timedelta(days=3)).date())
        assert await where_rows_live(db) == {
            "today": partition_name(now.date()),
            "three-days-ago": "scored_events_default",
            "year-2001": "scored_events_default",
        }

        # The next maintenance gives the recent straggler its own day; the 2001 one stays put.
        second = await maintain_partitions(store.engine, retention_days=0, now=now)
        assert second.created == (three_days_ago,)
        assert (await where_rows_live(db))["three-days-ago"] == three_days_ago

        # A replay finds every key, whichever partition the row is in: nothing new anywhere.
        replay = await store.write(batch(*events))
        assert replay.inserted_event_ids == {}
        assert await db.fetchval("SELECT count(*) FROM scored_events") == 3

        # Keep two days: the three-day-old partition goes whole, the 2001 row and its key go too.
        third = await maintain_partitions(store.engine, retention_days=2, now=now)
        assert third.dropped == (three_days_ago,)
        # One row out of the default partition, two keys, two events' scores (event_scores).
        assert third.rows_expired == 1 + 2 + 2
        assert await db.fetchval("SELECT count(*) FROM event_scores") == 1
        assert set(await where_rows_live(db)) == {"today"}
        assert await db.fetchval("SELECT count(*) FROM scored_event_keys") == 1
        tables = {r[0] for r in await db.fetch("SELECT tablename FROM pg_tables")}
        assert three_days_ago not in tables
    finally:
        await store.close()


async def test_retention_deletes_old_resolved_alerts_and_delivery_attempts_not_firing_ones(
    database_url: str, db: asyncpg.Connection
) -> None:
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=40), now - timedelta(days=1)

    async def alert(entity: str, resolved_at: datetime | None, attempted_at: datetime) -> uuid.UUID:
        alert_id, notification_id = uuid.uuid4(), uuid.uuid4()
        status = "firing" if resolved_at is None else "resolved"
        await db.execute(
            "INSERT INTO alerts (id, rule, severity, entity, status, first_seen, last_seen, event_count,"
            " resolved_at) VALUES ($1, 'r', 'high', $2, $3, $4, $4, 1, $5)",
            alert_id, entity, status, old, resolved_at,
        )
        await db.execute(
            "INSERT INTO alert_notifications (id, alert_id, kind, payload) VALUES ($1, $2, 'firing', '{}')",
            notification_id, alert_id,
        )
        await db.execute(
            "INSERT INTO alert_deliveries (notification_id, endpoint, attempt, status_code, duration_ms,"
            " attempted_at) VALUES ($1, 'http://x', 1, 200, 1.0, $2)",
            notification_id, attempted_at,
        )
        return alert_id

    try:
        gone = await alert("resolved-long-ago", resolved_at=old, attempted_at=old)
        kept = await alert("resolved-yesterday", resolved_at=recent, attempted_at=old)
        firing = await alert("firing-for-weeks", resolved_at=None, attempted_at=recent)
        report = await maintain_partitions(engine, retention_days=30, now=now)
        assert report.alerts_expired == 1 + 1  # one alert (its attempt cascades) and the other old attempt
        assert {r["id"] for r in await db.fetch("SELECT id FROM alerts")} == {kept, firing}
        assert await db.fetchval("SELECT count(*) FROM alert_notifications WHERE alert_id = $1", gone) == 0
        assert await db.fetchval("SELECT count(*) FROM alert_deliveries") == 1  # the firing one's, recent
        again = await maintain_partitions(engine, retention_days=30, now=now)
        assert again.alerts_expired == 0
    finally:
        await engine.dispose()


async def test_every_partition_carries_the_indexes_the_views_need(
    database_url: str, db: asyncpg.Connection
) -> None:
    engine = make_engine(database_url)
    try:
        await maintain_partitions(engine, retention_days=0)
        partitions = [name for name, _, _ in await list_partitions(engine)]
    finally:
        await engine.dispose()
    assert len(partitions) == 9  # today, 7 days ahead, default
    for name in partitions:
        indexes = await db.fetch("SELECT indexdef FROM pg_indexes WHERE tablename = $1", name)
        defs = " ".join(r["indexdef"] for r in indexes)
        assert len(indexes) == INDEXES_PER_PARTITION, (name, defs)
        assert "gin (entities)" in defs
        assert "date_trunc('hour'" in defs
        assert "WHERE (stream = 'customer'" in defs
        assert "(story_id) WHERE (story_id IS NOT NULL)" in defs


async def test_replicas_maintaining_at_once_create_each_partition_once(database_url: str) -> None:
    engines = [make_engine(database_url) for _ in range(3)]
    try:
        reports = await asyncio.gather(*(maintain_partitions(e, retention_days=0) for e in engines))
        created = [name for report in reports for name in report.created]
        assert len(created) == len(set(created))
        assert len(await list_partitions(engines[0])) == 9
    finally:
        for engine in engines:
            await engine.dispose()


def test_migration_0004_keeps_rows_ids_and_uniqueness_both_ways(database_url: str) -> None:
    """Rows written before partitioning keep their ids (alerts' evidence points at them)."""
    dsn = database_url.replace("+asyncpg", "")

    async def fill_unpartitioned() -> list[tuple[int, str]]:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(
                "INSERT INTO scored_events (stream, message_id, source_topic, source_partition, "
                "source_offset, event_time, text, sentiment, sentiment_score, sentiment_confidence, "
                "model_version) SELECT 'news', 'm' || n, 'news', 0, n, now() - n * interval '1 hour', "
                "'headline', 'neutral', 0, 0.9, 'test' FROM generate_series(1, 50) AS n"
            )
            return [tuple(r) for r in await conn.fetch("SELECT id, message_id FROM scored_events ORDER BY id")]
        finally:
            await conn.close()

    async def replay_one_and_add_one() -> None:
        engine = make_engine(database_url)
        try:
            await maintain_partitions(engine, retention_days=0)
            written = await Store(engine).write(batch(news_event("m7"), news_event("new")))
            assert list(written.inserted_event_ids) == [("news", "new")]
        finally:
            await engine.dispose()
        conn = await asyncpg.connect(dsn)
        try:
            kept = await conn.fetch("SELECT id, message_id FROM scored_events WHERE message_id <> 'new' ORDER BY id")
            assert [tuple(r) for r in kept] == before
            new_id = await conn.fetchval("SELECT id FROM scored_events WHERE message_id = 'new'")
            assert new_id > before[-1][0]  # the id sequence carried on
            assert await conn.fetchval("SELECT count(*) FROM scored_event_keys") == 51
            assert await conn.fetchval("SELECT entity FROM entity_sentiment_hourly") == "ZTX"  # the new row
        finally:
            await conn.close()

    async def natural_key_unique_again() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            assert await conn.fetchval("SELECT count(*) FROM scored_events") == 51
            with pytest.raises(asyncpg.UniqueViolationError):
                await conn.execute(
                    "INSERT INTO scored_events (stream, message_id, source_topic, source_partition, "
                    "source_offset, event_time, text, sentiment, sentiment_score, sentiment_confidence, "
                    "model_version) VALUES ('news', 'm1', 'news', 0, 1, now(), 'x', 'neutral', 0, 0.9, 't')"
                )
        finally:
            await conn.close()

    downgrade(database_url, "0003")
    before = asyncio.run(fill_unpartitioned())
    upgrade(database_url)
    asyncio.run(replay_one_and_add_one())
    downgrade(database_url, "0003")
    asyncio.run(natural_key_unique_again())
