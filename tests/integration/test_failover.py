"""A Postgres failover that loses its last transactions, under a running service (issue 23).

The real service (`run_service`, the real model) against a real primary and a real asynchronous
streaming standby on loopback ports, reaching Postgres through a relay (the one address that
follows the primary). The standby's feed is cut,
the service keeps writing to the primary and committing Kafka offsets, then the primary is killed
(SIGKILL) and the standby promoted. The service reads the promoted database's own offsets, seeks
there and writes again what that database lost: every message ends there once, alerts included.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from monitor.db.migrate import upgrade
from monitor.tools.receiver import WebhookReceiver
from tests.integration.pg_cluster import Cluster, Relay, cluster, server_bin
from tests.integration.running import service_running, settings_for
from tests.kafka_helpers import fresh_topics, produce
from tests.waiting import wait_for_status

pytestmark = pytest.mark.integration

SECRET = "whsec_" + base64.b64encode(b"failover-test-secret-000001").decode()
BEFORE_CUT, AFTER_CUT, LAST = 1_500, 1_500, 1_000
"""Messages the standby receives; those only the primary has; the last, sent just before the primary
dies (in the 'while writing' case) or once it has them all (the 'quiet' case): 4,000 in all."""
ZTX_BURST = [
    "$ZTX shares plunge after profit warning and guidance cut",
    "$ZTX operating loss widens as demand collapses in Europe",
    "$ZTX sales fall sharply and the company cuts 2,000 jobs",
    "$ZTX net loss deepens as revenue drops 30%",
    "$ZTX profit falls sharply on weak demand",
    "$ZTX posts bigger quarterly loss and warns on outlook",
]


def messages(first: int, count: int, burst: bool = False) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """`count` messages numbered from `first`: two thirds news, a third customer messages."""
    news: list[dict[str, object]] = []
    customer: list[dict[str, object]] = []
    for i in range(first, first + count):
        if i % 3 == 2:
            customer.append({"id": f"c-{i}", "text": f"How do I order a new card ({i})?", "customer_id": f"k{i % 50}"})
        else:
            news.append({"id": f"n-{i}", "headline": f"Market update {i}: shares steady"})
    if burst:  # the last news items: an alert that only the primary will have written
        now = datetime.now(UTC).isoformat()
        for j, headline in enumerate(ZTX_BURST):
            news[-1 - j]["headline"] = headline
            news[-1 - j]["published_at"] = now
    return news, customer


async def fetchval(dsn: str, query: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(query) or 0)
    finally:
        await conn.close()


async def wait_for(dsn: str, query: str, expected: int, within_s: float) -> int:
    """Poll `query` until it returns `expected` (or the time is up); the last value."""
    value = -1
    deadline = asyncio.get_running_loop().time() + within_s
    while asyncio.get_running_loop().time() < deadline:
        try:
            value = await fetchval(dsn, query)
        except (OSError, asyncpg.PostgresError):
            value = -1
        if value == expected:
            break
        await asyncio.sleep(0.25)
    return value


@pytest.fixture
def pg() -> Iterator[Cluster]:
    bin_dir = server_bin()
    if bin_dir is None:
        pytest.skip("the PostgreSQL server programs (initdb, pg_ctl, pg_basebackup, postgres) are not installed")
    with cluster(bin_dir) as c:
        yield c


@pytest.mark.parametrize("primary_dies", ["quiet", "while writing"])
async def test_a_failover_that_lost_transactions_ends_with_every_message_once_on_the_promoted_standby(
    broker, pg: Cluster, _free_http_port: int, scorer, primary_dies: str
) -> None:
    """'quiet': the primary had every message; no write fails, the offsets check finds the hole.
    'while writing': batches are in flight when it dies; they are dropped, not written later."""
    await asyncio.to_thread(upgrade, pg.primary.dsn.replace("postgresql://", "postgresql+asyncpg://"))
    pg.add_standby()
    relay = Relay(pg.primary.port)
    await relay.start()
    news, customer = await fresh_topics(broker.bootstrap, partitions=2)
    receiver = WebhookReceiver([SECRET]).start()
    settings = settings_for(
        broker.bootstrap,
        f"postgresql+asyncpg://postgres@127.0.0.1:{relay.port}/postgres",
        news,
        customer,
        max_poll_records=100,
        http_port=_free_http_port,
        webhook_url=(receiver.url,),
        webhook_secret=SECRET,
        dispatch_poll_interval_s=0.2,
    )
    rows = "SELECT count(*) FROM scored_events"
    offsets = "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets"
    ztx_alerts = "SELECT count(*) FROM alerts WHERE rule = 'negative_news_burst' AND entity = 'ZTX'"
    total = BEFORE_CUT + AFTER_CUT + LAST
    primary, standby = pg.primary.dsn, pg.standby.dsn
    try:
        async with (
            service_running(settings, scorer) as service,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{_free_http_port}") as client,
        ):
            # 1. Both servers have the first messages.
            first_news, first_customer = messages(0, BEFORE_CUT)
            await produce(broker.bootstrap, news, first_news)
            await produce(broker.bootstrap, customer, first_customer)
            assert await wait_for(primary, rows, BEFORE_CUT, within_s=60) == BEFORE_CUT
            await pg.wait_for_standby()

            # 2. The standby's feed is cut; the service writes on, and commits to Kafka.
            await pg.cut_the_standby_feed()
            later_news, later_customer = messages(BEFORE_CUT, AFTER_CUT, burst=True)
            await produce(broker.bootstrap, news, later_news)
            await produce(broker.bootstrap, customer, later_customer)
            expected = BEFORE_CUT + AFTER_CUT
            assert await wait_for(primary, offsets, expected, within_s=60) == expected
            assert await fetchval(primary, ztx_alerts) == 1
            last_news, last_customer = messages(BEFORE_CUT + AFTER_CUT, LAST)
            await produce(broker.bootstrap, news, last_news)
            await produce(broker.bootstrap, customer, last_customer)
            if primary_dies == "quiet":
                assert await wait_for(primary, offsets, total, within_s=60) == total
            on_primary = await fetchval(primary, rows)
            on_standby_before = await fetchval(standby, rows)
            alerts_on_standby_before = await fetchval(standby, ztx_alerts)

            # 3. The primary dies; the address goes nowhere; then the standby is promoted.
            pg.primary.kill()
            relay.switch(None)
            assert await wait_for_status(client, "/readyz", 503, within_s=20) == 503
            await pg.promote_standby()
            on_standby_at_promotion = await fetchval(standby, rows)
            relay.switch(pg.standby.port)
            assert not service.done(), "the service stopped during the failover"

            # 4. The service reads the promoted database's offsets and writes again what it lost.
            final = await wait_for(standby, rows, total, within_s=90)
            assert final == total, f"{final} of {total} rows on the promoted standby"
            assert await wait_for(standby, offsets, total, within_s=30) == total
            assert await wait_for_status(client, "/readyz", 200, within_s=30) == 200
            await asyncio.sleep(1)  # anything written twice would show up now
            assert not service.done()
    finally:
        receiver.stop()
        await relay.close()

    distinct = await fetchval(standby, "SELECT count(DISTINCT (stream, message_id)) FROM scored_events")
    places = await fetchval(
        standby, "SELECT count(DISTINCT (source_topic, source_partition, source_offset)) FROM scored_events"
    )
    final_rows = await fetchval(standby, rows)
    print(  # the figures of the scenario, for the report (-s)
        f"failover ({primary_dies}): sent={total} on_primary_at_kill>={on_primary} "
        f"on_standby_at_promotion={on_standby_at_promotion} "
        f"final={final_rows} distinct={distinct} doubled={final_rows - distinct}"
    )
    assert on_standby_before == on_standby_at_promotion < total, "the standby did not fall behind"
    assert (final_rows, distinct, places) == (total, total, total), "a message missing or doubled"
    assert await fetchval(standby, "SELECT count(*) FROM scored_event_keys") == total
    assert await fetchval(standby, "SELECT count(*) FROM dead_letters") == 0
    # The alert (and its outbox rows) died with the old primary; the replay raised it again.
    assert alerts_on_standby_before == 0
    assert await fetchval(standby, ztx_alerts) == 1
    outbox = "SELECT count(*) FROM alert_outbox o JOIN alert_notifications n ON n.id = o.notification_id"
    assert await fetchval(standby, outbox) >= 1
