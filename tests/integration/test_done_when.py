"""Issue 6's "done when", as a user would run it, against the real `monitor run` process:

3,000 news messages with every poison kind and one message carrying a card number mixed in; the
service SIGKILLed a third of the way through and restarted; later, while more news arrives, its
database connections cut again and again for 20 s. Exactly 3,001 scored rows, one dead letter per
poison message, and the card number nowhere in the database or in the service's logs.
"""

from __future__ import annotations

import asyncio
import re
import uuid

import asyncpg
import httpx
import pytest

from tests.conftest import ADMIN_URL, free_port
from tests.integration.poison import MAX_MESSAGE_BYTES, MAX_TEXT_CHARS, NEWS_POISON, Poison, tables_holding
from tests.integration.running import HEADLINES, service_env
from tests.integration.service_process import ServiceProcess
from tests.kafka_helpers import fresh_topics, produce
from tests.waiting import wait_for_rows, wait_for_status

pytestmark = pytest.mark.integration

CARD = "2223 0031 2200 3222"
"""A Luhn-valid Mastercard 2-series test number."""
CARD_DIGITS = CARD.replace(" ", "")
CARD_ANYHOW = re.compile(r"[ -]?".join(CARD_DIGITS))
"""The card with or without separators between any of its digits."""
CARD_MESSAGE = {
    "id": "card-holder",
    "headline": f"Customer reports card {CARD} stolen",
    "body": f"Card {CARD.replace(' ', '-')} was used abroad.",
    "note": CARD_DIGITS,
}
POISON = (
    # Invalid JSON that carries the card too: its dead letter's raw bytes must be masked.
    Poison("invalid JSON with a card", f'{{"headline": "card {CARD}'.encode(), "invalid JSON: Unterminated string"),
    *(p for p in NEWS_POISON if p.kind != "invalid JSON"),
)
FIRST, DURING_OUTAGE = 2_000, 1_000
TOTAL = FIRST + DURING_OUTAGE + 1  # the card message is scored too
OUTAGE_S = 20.0


def first_wave() -> list[object]:
    """2,000 good news (no producer ids: the Kafka position is the key) with the poison and the
    card message spread through them."""
    values: list[object] = [{"headline": f"{HEADLINES[i % 5]} ({i})"} for i in range(FIRST)]
    specials: list[object] = [p.value for p in POISON]
    specials.insert(len(specials) // 2, CARD_MESSAGE)
    step = FIRST // (len(specials) + 1)
    for n, value in enumerate(specials, start=1):
        values.insert(n * step + n - 1, value)
    return values


async def cut_connections_repeatedly(database: str, spare_pid: int, seconds: float) -> int:
    """pg_terminate_backend on the test database's backends (only there, never another database's)
    every 10 ms for `seconds`; returns how many backends were killed."""
    admin = await asyncpg.connect(ADMIN_URL)
    killed = 0
    try:
        deadline = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < deadline:
            killed += await admin.fetchval(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = $1 AND pid <> $2) AS t",
                database,
                spare_pid,
            )
            await asyncio.sleep(0.01)
    finally:
        await admin.close()
    return killed


async def watch_readiness(port: int, until: asyncio.Event) -> list[int]:
    statuses = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        while not until.is_set():
            try:
                statuses.append((await client.get("/readyz")).status_code)
            except httpx.TransportError:
                statuses.append(-1)
            await asyncio.sleep(0.2)
    return statuses


async def produce_slowly(bootstrap: str, topic: str, total: int, chunks: int, gap_s: float) -> None:
    size = total // chunks
    for c in range(chunks):
        batch = [{"headline": f"{HEADLINES[i % 5]} during the outage ({c * size + i})"} for i in range(size)]
        await produce(bootstrap, topic, batch)
        await asyncio.sleep(gap_s)


async def test_done_when_3001_rows_one_dead_letter_per_poison_no_card_anywhere(broker, database_url, db) -> None:
    news, customer = await fresh_topics(broker.bootstrap, partitions=3)
    await produce(broker.bootstrap, news, first_wave())
    env = {
        **service_env(broker.bootstrap, database_url, news, customer, f"g-{uuid.uuid4().hex[:6]}"),
        "MONITOR_MAX_MESSAGE_BYTES": str(MAX_MESSAGE_BYTES),
        "MONITOR_MAX_TEXT_CHARS": str(MAX_TEXT_CHARS),
    }

    first = ServiceProcess({**env, "MONITOR_HTTP_PORT": str(free_port())})
    first.start()
    try:
        assert await wait_for_rows(db, "scored_events", TOTAL // 3, within_s=180) >= TOTAL // 3
        first.kill()
    finally:
        first.close()
    at_kill = await db.fetchval("SELECT count(*) FROM scored_events")
    assert at_kill < FIRST, "the service finished before it could be killed"

    port = free_port()
    second = ServiceProcess({**env, "MONITOR_HTTP_PORT": str(port)})
    second.start()
    try:
        assert await wait_for_rows(db, "scored_events", FIRST + 1, within_s=240) == FIRST + 1
        assert await wait_for_rows(db, "dead_letters", len(POISON), within_s=30) == len(POISON)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert await wait_for_status(client, "/readyz", 200, within_s=30) == 200

        # Later on: more news arrives while the database connections are cut for 20 s.
        outage_over = asyncio.Event()
        readiness = asyncio.create_task(watch_readiness(port, outage_over))
        database = database_url.rsplit("/", 1)[1]
        cutting = asyncio.create_task(cut_connections_repeatedly(database, db.get_server_pid(), OUTAGE_S))
        await produce_slowly(broker.bootstrap, news, DURING_OUTAGE, chunks=10, gap_s=1.0)
        killed = await cutting
        outage_over.set()
        during = await readiness
        assert killed > 0
        assert 503 in during, f"/readyz never said not ready during the outage: {during}"
        assert second.process is not None and second.process.poll() is None, "the service died"

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert await wait_for_status(client, "/readyz", 200, within_s=30) == 200
        assert await wait_for_rows(db, "scored_events", TOTAL, within_s=120) == TOTAL
        await asyncio.sleep(2)  # anything doubled would land now
        assert second.terminate() == 0
    finally:
        second.close()

    # Exactly once: 3,001 rows, 3,001 distinct Kafka positions.
    assert await db.fetchval("SELECT count(*) FROM scored_events") == TOTAL
    assert await db.fetchval("SELECT count(DISTINCT (source_partition, source_offset)) FROM scored_events") == TOTAL
    assert await db.fetchval("SELECT count(DISTINCT message_id) FROM scored_events") == TOTAL

    # One dead letter per poison message, each with its reason.
    reasons = [r["reason"] for r in await db.fetch("SELECT reason FROM dead_letters")]
    assert len(reasons) == len(POISON)
    for p in POISON:
        assert sum(r.startswith(p.reason) for r in reasons) == 1, (p.kind, reasons)

    # The card message was stored, masked; the card itself is nowhere in the database or the logs.
    text = await db.fetchval("SELECT text FROM scored_events WHERE message_id = 'card-holder'")
    assert "2223 00** **** 3222" in text
    assert await tables_holding(db, CARD_DIGITS) == []
    for service in (first, second):
        assert not CARD_ANYHOW.search(service.log_text())

    # The outage was seen and retried, not crashed through.
    events = second.events()
    assert any(e.get("event") == "database unavailable; retrying" for e in events)
    assert any(e.get("event") == "stopped" for e in events)
