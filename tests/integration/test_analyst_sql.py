"""Analyst SQL: each query of docs/queries.sql runs as the read-only role on service-made data."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from monitor.db.connection import make_engine
from monitor.db.migrate import downgrade, upgrade
from monitor.db.partitions import maintain_partitions
from tests.conftest import ADMIN_URL
from tests.integration.running import HEADLINES, QUESTIONS, service_running, settings_for
from tests.kafka_helpers import fresh_topics, produce
from tests.waiting import wait_for_rows

pytestmark = pytest.mark.integration

QUERIES_FILE = Path(__file__).resolve().parents[2] / "docs" / "queries.sql"


def named_queries() -> dict[str, str]:
    """`-- name: x` blocks of docs/queries.sql, each up to its terminating semicolon."""
    text = QUERIES_FILE.read_text()
    queries = {}
    for block in re.split(r"^-- name: ", text, flags=re.MULTILINE)[1:]:
        name, _, body = block.partition("\n")
        sql = "\n".join(line for line in body.splitlines() if not line.startswith("--"))
        queries[name.strip()] = sql.split(";")[0].strip()
    return queries


@pytest.fixture
async def analyst(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as a fresh login role whose only privileges come from monitor_analyst."""
    role = f"analyst_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f"CREATE ROLE {role} LOGIN IN ROLE monitor_analyst")
    dsn = database_url.replace("+asyncpg", "").replace("//postgres@", f"//{role}@", 1)
    conn = await asyncpg.connect(dsn)
    try:
        yield conn
    finally:
        await conn.close()
        await admin.execute(f"DROP ROLE {role}")
        await admin.close()


def test_queries_file_has_the_documented_queries() -> None:
    names = set(named_queries())
    assert {"entity_sentiment_last_24h", "top_intents_today", "news_mentioning_entity"} <= names
    assert all(sql.upper().startswith("SELECT") for sql in named_queries().values())


async def test_every_documented_query_runs_on_data_written_by_the_service(
    broker, database_url, db, scorer, analyst
) -> None:
    news, customer = await fresh_topics(broker.bootstrap, partitions=2)
    items = [{"id": f"n{i}", "headline": HEADLINES[i % 5], "tickers": ["ztx"]} for i in range(20)]
    await produce(broker.bootstrap, news, [*items, b"not json"])
    texts = [
        {"id": f"c{i}", "text": QUESTIONS[i % 4], "customer_id": f"cust-{i % 3}"} for i in range(12)
    ]
    await produce(broker.bootstrap, customer, texts)

    settings = settings_for(broker.bootstrap, database_url, news, customer)
    async with service_running(settings, scorer):
        assert await wait_for_rows(db, "scored_events", 32) == 32
        assert await wait_for_rows(db, "dead_letters", 1) == 1

    for name, sql in named_queries().items():
        rows = await analyst.fetch(sql)
        assert rows, f"{name} returned no rows"

    hourly = await analyst.fetch("SELECT * FROM entity_sentiment_hourly WHERE entity = 'ZTX'")
    assert sum(r["events"] for r in hourly) == 20
    top = await analyst.fetch("SELECT intent, messages, rank FROM top_intents_today")
    assert sum(r["messages"] for r in top) == 12
    assert top[0]["rank"] == 1


async def test_the_analyst_role_cannot_change_anything(db, analyst) -> None:
    await db.execute(
        "INSERT INTO dead_letters (source_topic, source_partition, source_offset, reason)"
        " VALUES ('t', 0, 0, 'test')"
    )
    assert await analyst.fetchval("SELECT count(*) FROM dead_letters") == 1
    for statement in (
        "INSERT INTO dead_letters (source_topic, source_partition, source_offset, reason)"
        " VALUES ('t', 0, 1, 'x')",
        "UPDATE dead_letters SET reason = 'changed'",
        "DELETE FROM dead_letters",
        "TRUNCATE scored_events",
        "CREATE TABLE public.mine (id int)",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await analyst.execute(statement)
    assert await db.fetchval("SELECT reason FROM dead_letters") == "test"


async def index_on_each_partition(db: asyncpg.Connection, parent_index: str) -> set[str]:
    rows = await db.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = $1::regclass",
        parent_index,
    )
    return {r[0] for r in rows}


async def test_views_use_their_indexes(database_url: str, db: asyncpg.Connection) -> None:
    engine = make_engine(database_url)
    try:
        await maintain_partitions(engine, retention_days=0)  # today's and the next days' partitions
    finally:
        await engine.dispose()
    await db.execute("SET enable_seqscan = off")  # empty tables: ask whether an index can serve
    hourly = "\n".join(
        r[0]
        for r in await db.fetch(
            "EXPLAIN SELECT * FROM entity_sentiment_hourly"
            " WHERE hour_utc >= date_trunc('hour', now() AT TIME ZONE 'UTC') - interval '1 day'"
        )
    )
    intents = "\n".join(r[0] for r in await db.fetch("EXPLAIN SELECT * FROM top_intents_today"))
    for plan, index in ((hourly, "ix_scored_events_hour_utc"), (intents, "ix_scored_events_customer_intent")):
        per_partition = await index_on_each_partition(db, index)
        assert len(per_partition) == 9  # today, 7 days ahead, default
        assert "Seq Scan" not in plan, plan
        assert any(name in plan for name in per_partition), plan


async def test_analyst_migration_downgrades_and_upgrades_again(database_url: str, db: asyncpg.Connection) -> None:
    views = "SELECT count(*) FROM pg_views WHERE schemaname = 'public' AND viewname = 'entity_sentiment_hourly'"
    readable = "SELECT has_table_privilege('monitor_analyst', 'kafka_log_events', 'SELECT')"
    await asyncio.to_thread(downgrade, database_url, "0002")
    assert await db.fetchval(views) == 0
    await asyncio.to_thread(upgrade, database_url)
    assert await db.fetchval(views) == 1
    assert await db.fetchval(readable), "tables added later are the analysts' to read too"
