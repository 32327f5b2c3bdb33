"""Postgres restarted under a running service: it waits, retries with backoff, reports not ready,
and catches up by itself. A private server (pgserver), since the shared one must never stop."""

from __future__ import annotations

import asyncio
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import structlog

from monitor.db.migrate import upgrade
from tests.integration.running import HEADLINES, service_running, settings_for
from tests.kafka_helpers import fresh_topics, produce
from tests.waiting import wait_for_rows, wait_for_status

pytestmark = pytest.mark.integration


class PrivatePostgres:
    """A PostgreSQL server of this test's own, which it may stop and start."""

    def __init__(self, directory: Path) -> None:
        with warnings.catch_warnings():  # platformdirs warns, once, that XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            import pgserver

        self.server = pgserver.get_server(directory, cleanup_mode="stop")
        self.socket_dir = self.server.get_uri().split("host=", 1)[1]
        self.url = f"postgresql+asyncpg://postgres@/postgres?host={self.socket_dir}"

    def stop(self) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user)

    def start(self) -> None:
        self.server.ensure_postgres_running()

    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(host=self.socket_dir, user="postgres", database="postgres")


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    with tempfile.TemporaryDirectory(prefix="monitor-pg-restart-") as directory:
        pg = PrivatePostgres(Path(directory))
        try:
            upgrade(pg.url)
            yield pg
        finally:
            pg.server.cleanup()


async def count_rows(pg: PrivatePostgres) -> tuple[int, int]:
    conn = await pg.connect()
    try:
        total = await conn.fetchval("SELECT count(*) FROM scored_events")
        distinct = await conn.fetchval("SELECT count(DISTINCT (source_partition, source_offset)) FROM scored_events")
        return int(total), int(distinct)
    finally:
        await conn.close()


async def test_postgres_restarted_the_service_waits_retries_and_catches_up_without_a_restart(
    broker, private_postgres: PrivatePostgres, scorer, _free_http_port: int
) -> None:
    pg = private_postgres
    news, customer = await fresh_topics(broker.bootstrap, partitions=2)
    before, during = 200, 300
    await produce(broker.bootstrap, news, [{"headline": f"{HEADLINES[i % 5]} ({i})"} for i in range(before)])
    settings = settings_for(broker.bootstrap, pg.url, news, customer, max_poll_records=50, http_port=_free_http_port)
    base_url = f"http://127.0.0.1:{_free_http_port}"
    with structlog.testing.capture_logs() as logs:
        async with service_running(settings, scorer) as service, httpx.AsyncClient(base_url=base_url) as client:
            db = await pg.connect()
            try:
                assert await wait_for_rows(db, "scored_events", before, within_s=60) == before
            finally:
                await db.close()
            assert await wait_for_status(client, "/readyz", 200, within_s=10) == 200

            pg.stop()
            await produce(
                broker.bootstrap, news, [{"headline": f"during the outage ({i})"} for i in range(during)]
            )
            assert await wait_for_status(client, "/readyz", 503, within_s=10) == 503
            await asyncio.sleep(8)
            assert (await client.get("/readyz")).status_code == 503
            assert (await client.get("/healthz")).status_code == 200
            assert not service.done(), "the service gave up while Postgres was down"
            pg.start()

            assert await wait_for_status(client, "/readyz", 200, within_s=30) == 200
            db = await pg.connect()
            try:
                assert await wait_for_rows(db, "scored_events", before + during, within_s=60) == before + during
            finally:
                await db.close()
            await asyncio.sleep(1)

    assert await count_rows(pg) == (before + during, before + during)
    waits = [float(e["retry_in_s"]) for e in logs if e.get("event") == "database unavailable; retrying"]
    assert len(waits) >= 3, "the writer retried while Postgres was down"
    # Exponential backoff with jitter in [delay/2, delay]: later waits are longer than the first.
    assert max(waits) > 2 * waits[0]
