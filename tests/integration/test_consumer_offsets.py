"""`consumer_offsets` on a real Postgres: advanced with the rows in one transaction, never moved
back, a write refused whole when the database holds less than was written, readable by analysts."""

from __future__ import annotations

import asyncpg
import pytest

from monitor.db.connection import make_engine
from monitor.db.store import Store
from monitor.errors import StoreDiverged
from monitor.records import Partition
from tests.alert_helpers import batch, news_event

pytestmark = pytest.mark.integration

P0, P1 = Partition("news", 0), Partition("news", 1)


async def test_offsets_advance_with_the_rows_never_back_and_a_diverged_database_refuses_the_write(
    database_url: str, db: asyncpg.Connection
) -> None:
    store = Store(make_engine(database_url), group_id="g1")
    other = Store(store.engine, group_id="g2")
    try:
        assert await store.stored_offsets([P0, P1]) == {}
        first = batch(news_event("a"), news_event("b"))
        first.offsets = {P0: 10, P1: 4}
        await store.write(first)
        assert await store.stored_offsets([P0, P1]) == {P0: 10, P1: 4}
        assert await other.stored_offsets([P0, P1]) == {}, "offsets are per consumer group"

        # A late writer (a fenced replica) never moves an offset back.
        late = batch(news_event("c"))
        late.offsets, late.expected_offsets = {P0: 7}, {P0: 5}
        await store.write(late)
        assert await store.stored_offsets([P0]) == {P0: 10}

        # The writer saw P1 at 9 committed: this database lost that. Nothing of the batch goes in.
        diverged = batch(news_event("d"))
        diverged.offsets, diverged.expected_offsets = {P1: 12}, {P1: 9}
        with pytest.raises(StoreDiverged, match="news/1: 4 < 9"):
            await store.write(diverged)
        assert await db.fetchval("SELECT count(*) FROM scored_events WHERE message_id = 'd'") == 0
        assert await store.stored_offsets([P1]) == {P1: 4}
        # Only the batch's partitions are checked; a partition with no row at all is behind too.
        missing = batch(news_event("e"))
        missing.offsets, missing.expected_offsets = {P0: 11}, {Partition("cust", 0): 1}
        with pytest.raises(StoreDiverged):
            await store.write(missing)
    finally:
        await store.close()

    async with db.transaction():
        await db.execute("SET LOCAL ROLE monitor_analyst")
        rows = await db.fetch("SELECT group_id, topic, partition, next_offset FROM consumer_offsets ORDER BY 3")
    assert [tuple(r) for r in rows] == [("g1", "news", 0, 10), ("g1", "news", 1, 4)]
