"""A running service answers /healthz, /readyz and /metrics; /readyz is 503 without Postgres."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from tests.conftest import ADMIN_URL
from tests.integration.running import HEADLINES, QUESTIONS, service_running, settings_for
from tests.kafka_helpers import fresh_topics, produce
from tests.waiting import last_value, wait_for_rows, wait_for_status

pytestmark = pytest.mark.integration


def sample(text: str, labels: str, body: str) -> float:
    """The value of one sample line `text{labels}` in a Prometheus text page."""
    prefix = f"{text}{{{labels}}} " if labels else f"{text} "
    for line in body.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    raise AssertionError(f"no sample {prefix!r}")


async def _set_connections(database: str, allowed: bool, spare_pid: int = 0) -> None:
    """Make the test database refuse (or accept again) connections, killing open ones but one."""
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = $1 AND pid <> $2",
                database,
                spare_pid,
            )
    finally:
        await conn.close()


async def metrics_text(client: httpx.AsyncClient) -> str:
    return (await client.get("/metrics")).text


async def test_health_readiness_and_metrics_of_a_running_service(
    broker, database_url, db, scorer, _free_http_port
) -> None:
    news, customer = await fresh_topics(broker.bootstrap, partitions=2)
    headlines = [{"id": f"n{i}", "headline": HEADLINES[i % 5]} for i in range(30)]
    await produce(broker.bootstrap, news, [*headlines, b"{broken"])
    texts = [{"id": f"c{i}", "text": QUESTIONS[i % 4]} for i in range(10)]
    await produce(broker.bootstrap, customer, texts)

    settings = settings_for(broker.bootstrap, database_url, news, customer, http_port=_free_http_port)
    database = database_url.rsplit("/", 1)[1]
    base_url = f"http://127.0.0.1:{settings.http_port}"
    async with service_running(settings, scorer), httpx.AsyncClient(base_url=base_url) as client:
        assert await wait_for_status(client, "/healthz", 200, within_s=30) == 200
        assert await wait_for_status(client, "/readyz", 200, within_s=60) == 200
        assert await wait_for_rows(db, "scored_events", 40) == 40
        assert await wait_for_rows(db, "dead_letters", 1) == 1
        # The commit (and its metrics) follows the transaction: the counters catch up.
        body = await last_value(
            lambda: metrics_text(client),
            lambda text: f'monitor_messages_consumed_total{{topic="{news}"}} 31.0' in text,
            within_s=30, every_s=0.1,
        )
        assert sample("monitor_messages_consumed_total", f'topic="{news}"', body) == 31
        assert sample("monitor_messages_scored_total", f'topic="{customer}"', body) == 10
        assert sample("monitor_messages_dead_lettered_total", f'topic="{news}"', body) == 1
        assert sample("monitor_batch_size_count", "", body) >= 1
        assert sample("monitor_db_write_seconds_count", "", body) >= 1
        assert sample("monitor_model_seconds_count", "", body) >= 1
        assert sample("monitor_batch_latency_seconds_count", "", body) >= 1
        assert sample("monitor_model_path", 'path="eager"', body) == 1  # the test scorer is not compiled
        lags = [line for line in body.splitlines() if line.startswith("monitor_consumer_lag{")]
        assert lags and all(line.endswith(" 0.0") for line in lags)

        await _set_connections(database, allowed=False, spare_pid=db.get_server_pid())
        try:
            assert await wait_for_status(client, "/readyz", 503, within_s=15) == 503
            assert (await client.get("/healthz")).status_code == 200
        finally:
            await _set_connections(database, allowed=True)
        assert await wait_for_status(client, "/readyz", 200, within_s=15) == 200
