"""Alert rules evaluated inside the batch transaction, against real Postgres."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from monitor.alerts.store import AlertStore
from monitor.batch import AlertEffects
from monitor.db.alerts import AlertsDatabase
from tests.alert_helpers import alert_store, batch, customer_event, news_event, rules

pytestmark = pytest.mark.integration


async def test_two_replicas_writing_halves_of_a_burst_raise_exactly_one_alert(
    database_url: str, db: asyncpg.Connection
) -> None:
    """Each replica alone sees 3 of 5 negative items; together they must raise one alert."""
    replica_a = alert_store(database_url, rules())
    replica_b = alert_store(database_url, rules())
    try:
        rounds = 12
        for n in range(rounds):
            entity = f"E{n}"
            a = batch(*(news_event(f"a{n}-{i}", entities=(entity,), partition=0) for i in range(3)))
            b = batch(*(news_event(f"b{n}-{i}", entities=(entity,), partition=1) for i in range(3)))
            await asyncio.gather(replica_a.write(a), replica_b.write(b))
        rows = await db.fetch("SELECT entity, event_count, cardinality(evidence) AS n FROM alerts")
        by_entity = {r["entity"]: r for r in rows}
        assert sorted(by_entity) == sorted(f"E{n}" for n in range(rounds))  # never zero
        assert len(rows) == rounds  # never two
        # Whoever counted second saw all six; or the first raised at 5 and the second updated.
        assert all(r["event_count"] == 6 and r["n"] == 6 for r in rows)
        notifications = await db.fetchval("SELECT count(*) FROM alert_notifications")
        assert notifications == rounds  # one page per alert
    finally:
        await replica_a.close()
        await replica_b.close()


async def test_replaying_a_batch_changes_no_alert(
    database_url: str, db: asyncpg.Connection
) -> None:
    store = alert_store(database_url, rules(), endpoints=("http://a/hook", "http://b/hook"))
    try:
        burst = batch(
            *(news_event(f"n{i}") for i in range(5)),
            customer_event("c1", "cust-42", "lost_or_stolen_card"),
        )
        first = await store.write(burst)
        assert len(first.alerts.raised) == 2
        before = await db.fetch("SELECT * FROM alerts ORDER BY rule")
        again = await store.write(burst)
        assert again.alerts == AlertEffects()  # nothing inserted, nothing evaluated
        assert await db.fetch("SELECT * FROM alerts ORDER BY rule") == before
        assert await db.fetchval("SELECT count(*) FROM alert_notifications") == 2
        # one outbox row per notification per endpoint, each delivered independently
        assert await db.fetchval("SELECT count(*) FROM alert_outbox WHERE status = 'pending'") == 4
    finally:
        await store.close()


async def test_repeats_inside_the_cooldown_update_instead_of_paging(
    database_url: str, db: asyncpg.Connection
) -> None:
    store = alert_store(database_url, rules())
    try:
        await store.write(batch(*(news_event(f"n{i}") for i in range(5))))
        await store.write(batch(news_event("n5"), news_event("n6", sentiment="positive")))
        await store.write(
            batch(
                customer_event("c1", "cust-77", "card_payment_not_recognised"),
                customer_event("c2", "cust-77", "card_payment_not_recognised"),
            )
        )
        await store.write(
            batch(
                customer_event("c3", "cust-77", "card_payment_not_recognised"),
                customer_event("c4", "cust-78", "card_payment_not_recognised", 0.3),
            )
        )
        rows = {r["entity"]: r for r in await db.fetch("SELECT * FROM alerts")}
        assert set(rows) == {"ZTX", "cust-77"}
        assert rows["ZTX"]["event_count"] == 6
        assert rows["cust-77"]["event_count"] == 3
        assert rows["cust-77"]["severity"] == "critical"
        kinds = [r["kind"] for r in await db.fetch("SELECT kind FROM alert_notifications")]
        assert kinds == ["firing", "firing"]
    finally:
        await store.close()


async def test_repeat_after_cooldown_pages_again_and_quiet_alerts_resolve(
    database_url: str, db: asyncpg.Connection
) -> None:
    config = rules("rules:\n  fraud_intent:\n    cooldown: 0s\n    resolve_after: 1h\n")
    store = alert_store(database_url, config, endpoints=("http://a/hook",))
    ahead = timedelta(0)
    resolver = AlertStore(config, ("http://a/hook",), clock=lambda: datetime.now(UTC) + ahead)
    database = AlertsDatabase(store.engine)
    try:
        await store.write(batch(customer_event("c1", "cust-42", "compromised_card")))
        await store.write(batch(customer_event("c2", "cust-42", "compromised_card")))
        assert await resolver.resolve_stale(database) == []
        ahead = timedelta(hours=1, seconds=1)  # the resolver's clock, an hour on
        [resolved] = await resolver.resolve_stale(database)
        assert (resolved.entity, resolved.status, resolved.event_count) == (
            "cust-42",
            "resolved",
            2,
        )
        kinds = [
            r["kind"]
            for r in await db.fetch("SELECT kind FROM alert_notifications ORDER BY created_at")
        ]
        assert kinds == ["firing", "repeat", "resolved"]
        # A new report after resolution opens a new alert: the partial index allows it.
        await store.write(batch(customer_event("c3", "cust-42", "compromised_card")))
        statuses = sorted(r["status"] for r in await db.fetch("SELECT status FROM alerts"))
        assert statuses == ["firing", "resolved"]
    finally:
        await store.close()


async def test_intent_spike_fires_on_a_burst_of_one_intent(
    database_url: str, db: asyncpg.Connection
) -> None:
    config = rules("rules:\n  intent_spike:\n    min_count: 6\n    factor: 3\n")
    store = alert_store(database_url, config)
    try:
        await store.write(
            batch(*(customer_event(f"c{i}", f"cust-{i}", "card_arrival") for i in range(5)))
        )
        assert await db.fetchval("SELECT count(*) FROM alerts") == 0
        await store.write(batch(customer_event("c5", "cust-5", "card_arrival")))
        row = await db.fetchrow("SELECT rule, entity, event_count FROM alerts")
        assert dict(row) == {"rule": "intent_spike", "entity": "card_arrival", "event_count": 6}
    finally:
        await store.close()
