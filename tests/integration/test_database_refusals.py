"""A database that is there but says no (full disk 53100, read-only 25006): an outage, never bad input.

Real Postgres raising the real SQLSTATE: a trigger raising `disk_full` stands for a full disk (no
test may fill the shared server's disk), and `default_transaction_read_only` for a demoted
primary. The service waits and retries with backoff, reports not ready, dead-letters nothing, and
catches up by itself once the database takes writes again.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest
import structlog

from tests.integration.running import service_running, settings_for
from tests.kafka_helpers import fresh_topics, produce
from tests.waiting import until, wait_for_rows, wait_for_status

pytestmark = pytest.mark.integration

DISK_FULL = """
CREATE FUNCTION pretend_the_disk_is_full() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full';
END
$$;
CREATE TRIGGER disk_full BEFORE INSERT ON scored_event_keys
    FOR EACH STATEMENT EXECUTE FUNCTION pretend_the_disk_is_full();
"""


def refused_with(logs: list[dict[str, Any]], sqlstate: str) -> int:
    return sum(1 for e in logs if f"SQLSTATE {sqlstate}" in str(e.get("error", "")))


async def terminate_sessions(db: asyncpg.Connection) -> None:
    """End the service's sessions, so its pool reconnects and picks up the database's settings."""
    await db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )


async def counts(db: asyncpg.Connection) -> tuple[int, int, int]:
    rows = await db.fetchval("SELECT count(*) FROM scored_events")
    distinct = await db.fetchval("SELECT count(DISTINCT (stream, message_id)) FROM scored_events")
    dead = await db.fetchval("SELECT count(*) FROM dead_letters")
    return int(rows), int(distinct), int(dead)


async def test_a_full_disk_delays_rows_loses_none_and_dead_letters_nothing(
    broker, database_url: str, db: asyncpg.Connection, scorer, _free_http_port: int
) -> None:
    news, customer = await fresh_topics(broker.bootstrap, partitions=2)
    await db.execute(DISK_FULL)
    n = 300
    await produce(broker.bootstrap, news, [{"id": f"n{i}", "headline": f"Markets steady ({i})"} for i in range(n)])
    settings = settings_for(
        broker.bootstrap, database_url, news, customer, max_poll_records=50, http_port=_free_http_port
    )
    with structlog.testing.capture_logs() as logs:
        async with (
            service_running(settings, scorer) as service,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{_free_http_port}") as client,
        ):
            await until(lambda: refused_with(logs, "53100") >= 2, within_s=60, every_s=0.1)
            await asyncio.sleep(3)
            assert (await client.get("/readyz")).status_code == 503
            assert await counts(db) == (0, 0, 0), "a row went in, or a dead letter, while the disk was full"
            assert not service.done()

            await db.execute("DROP TRIGGER disk_full ON scored_event_keys")
            assert await wait_for_rows(db, "scored_events", n, within_s=60) == n
            assert await wait_for_status(client, "/readyz", 200, within_s=30) == 200
            await asyncio.sleep(1)

    assert await counts(db) == (n, n, 0)
    waits = [float(e["retry_in_s"]) for e in logs if e.get("event") == "database unavailable; retrying"]
    assert len(waits) >= 2 and max(waits) > waits[0], "no backoff between the refused writes"


async def test_a_read_only_primary_delays_rows_loses_none_and_dead_letters_nothing(
    broker, database_url: str, db: asyncpg.Connection, scorer, _free_http_port: int
) -> None:
    news, customer = await fresh_topics(broker.bootstrap, partitions=2)
    name = database_url.rsplit("/", 1)[1]
    before, during = 100, 200
    settings = settings_for(
        broker.bootstrap, database_url, news, customer, max_poll_records=50, http_port=_free_http_port
    )
    with structlog.testing.capture_logs() as logs:
        async with (
            service_running(settings, scorer) as service,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{_free_http_port}") as client,
        ):
            await produce(broker.bootstrap, news, [{"id": f"a{i}", "headline": f"Calm ({i})"} for i in range(before)])
            assert await wait_for_rows(db, "scored_events", before, within_s=60) == before

            # The node is demoted: every new session is read-only.
            await db.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
            await terminate_sessions(db)
            await produce(broker.bootstrap, news, [{"id": f"b{i}", "headline": f"Later ({i})"} for i in range(during)])
            await until(lambda: refused_with(logs, "25006") >= 2, within_s=60, every_s=0.1)
            assert await wait_for_status(client, "/readyz", 503, within_s=10) == 503
            assert await counts(db) == (before, before, 0)
            assert not service.done()

            await db.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
            await terminate_sessions(db)
            assert await wait_for_rows(db, "scored_events", before + during, within_s=60) == before + during
            assert await wait_for_status(client, "/readyz", 200, within_s=30) == 200
            await asyncio.sleep(1)

    assert await counts(db) == (before + during, before + during, 0)
