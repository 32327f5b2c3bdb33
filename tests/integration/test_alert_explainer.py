"""The explainer against real Postgres and the real model: what it claims, a storm explained at once,
and scoring first: routine alerts wait out a backlog while urgent ones do not."""

from __future__ import annotations

import json
from collections.abc import Sequence

import asyncpg
import pytest

from monitor.alerts.explainer import AlertExplainer, ExplainPolicy
from monitor.db.alerts import AlertsDatabase
from monitor.load import Load
from tests.alert_helpers import alert_store, batch, customer_event, rules
from tests.fakes import FakeExplainer

pytestmark = pytest.mark.integration

REPORTS = [
    "my card was stolen this morning, please block it",
    "there is a payment on my card that I never made",
    "someone took cash out with my card and it was not me",
    "I lost my card on the train, can you freeze it",
    "a direct debit came out of my account that I never set up",
    "I think my card details were stolen online",
]


async def raise_fraud_alerts(database_url: str, texts: Sequence[str]) -> None:
    """One fraud_intent alert per text (each its own customer), its notification waiting for reasons."""
    store = alert_store(database_url, rules(), explain=True)
    try:
        events = [
            customer_event(f"m{i}", f"cust-{i}", "compromised_card", text=t) for i, t in enumerate(texts)
        ]
        written = await store.write(batch(*events))
        assert len(written.alerts.raised) == len(texts)
    finally:
        await store.close()


async def test_a_storms_reports_are_explained_in_one_call(
    database_url: str, db: asyncpg.Connection, scorer
) -> None:  # type: ignore[no-untyped-def]
    await raise_fraud_alerts(database_url, REPORTS)
    model = FakeExplainer(scorer)
    store = alert_store(database_url, rules())
    explainer = AlertExplainer(
        AlertsDatabase(store.engine), model, scorer.model_version, ExplainPolicy(timeout_s=120.0)
    )
    try:
        assert await explainer.cycle() == len(REPORTS)
    finally:
        await store.close()

    assert [sorted(call) for call in model.texts] == [sorted(REPORTS)]
    rows = await db.fetch(
        "SELECT n.payload, e.text FROM alert_notifications n"
        " JOIN scored_events e ON e.id = (n.payload->'evidence'->>0)::bigint"
        " WHERE n.explained_at IS NOT NULL AND n.explaining_until IS NULL"
    )
    assert len(rows) == len(REPORTS)
    for row in rows:  # each notification carries the words of its own report
        [item] = json.loads(row["payload"])["evidence_details"]
        assert item["intent_explanation"], item
        for w in item["intent_explanation"] + item["explanation"]:
            assert row["text"][w["start"] : w["end"]] == w["word"]
    assert await db.fetchval("SELECT count(*) FROM event_explanations") == len(REPORTS)


async def test_a_notification_past_its_bound_is_released_never_claimed_again(
    database_url: str, db: asyncpg.Connection, scorer
) -> None:  # type: ignore[no-untyped-def]
    await raise_fraud_alerts(database_url, REPORTS[:2])
    # One was claimed 40 s ago by a replica whose lease has just lapsed; the other is fresh.
    old = await db.fetchval(
        "UPDATE alert_notifications SET created_at = now() - interval '40 seconds',"
        " explaining_until = now() - interval '1 second'"
        " WHERE id = (SELECT id FROM alert_notifications ORDER BY id LIMIT 1) RETURNING id"
    )
    store = alert_store(database_url, rules())
    explainer = AlertExplainer(
        AlertsDatabase(store.engine), FakeExplainer(scorer), scorer.model_version, ExplainPolicy(30.0)
    )
    try:
        claimed = await explainer.claim()
        assert len(claimed) == 1 and claimed[0].id != old
        await explainer.explain(claimed)
        assert await explainer.cycle() == 1  # the release takes it
    finally:
        await store.close()

    rows = {r["id"]: r for r in await db.fetch("SELECT id, payload, explained_at FROM alert_notifications")}
    assert all(r["explained_at"] is not None for r in rows.values())
    [stale] = json.loads(rows[old]["payload"])["evidence_details"]
    assert "intent_explanation" not in stale  # sent as it was, without reasons
    [young] = [json.loads(r["payload"]) for i, r in rows.items() if i != old]
    assert young["evidence_details"][0]["intent_explanation"]


SPIKE_TEXTS = [f"when will my new card arrive, it has been {i} days" for i in range(20)]
CONFIDENT = (2, 5)
"""The spike's messages the model was surest of (besides them, its newest is explained)."""


async def raise_spike_and_fraud(database_url: str, db: asyncpg.Connection) -> tuple[list[int], str]:
    """An intent_spike (medium: routine) over 20 messages and a fraud_intent (critical: urgent);
    the spike's event ids, oldest first, and the fraud report's text."""
    store = alert_store(database_url, rules(), explain=True)
    try:
        spike = [
            customer_event(f"s{i}", f"spiker-{i}", "card_arrival", 0.95 if i in CONFIDENT else 0.6, text=t)
            for i, t in enumerate(SPIKE_TEXTS)
        ]
        written = await store.write(batch(*spike, customer_event("f1", "victim", "compromised_card", text=REPORTS[0])))
        assert sorted(a.rule for a in written.alerts.raised) == ["fraud_intent", "intent_spike"]
    finally:
        await store.close()
    ids = [r["id"] for r in await db.fetch("SELECT id FROM scored_events WHERE message_id LIKE 's%' ORDER BY id")]
    return ids, REPORTS[0]


async def explained(db: asyncpg.Connection, rule: str) -> dict | None:  # type: ignore[type-arg]
    """The notification's body once the explainer has finished with it, else None."""
    row = await db.fetchrow(
        "SELECT payload, explained_at FROM alert_notifications WHERE payload->>'rule' = $1", rule
    )
    return json.loads(row["payload"]) if row["explained_at"] is not None else None


async def test_routine_alerts_wait_out_a_backlog_urgent_ones_half_their_bound(
    database_url: str, db: asyncpg.Connection, scorer
) -> None:  # type: ignore[no-untyped-def]
    spike_ids, report = await raise_spike_and_fraud(database_url, db)
    load = [Load.BACKLOG]
    model = FakeExplainer(scorer)
    store = alert_store(database_url, rules())
    explainer = AlertExplainer(
        AlertsDatabase(store.engine), model, scorer.model_version, ExplainPolicy(timeout_s=120.0), load=lambda: load[0]
    )
    try:
        assert await explainer.cycle() == 0, "a young fraud alert waits while the backlog drains"
        await db.execute(
            "UPDATE alert_notifications SET created_at = now() - interval '61 seconds' WHERE payload->>'rule' = $1",
            "fraud_intent",
        )
        assert await explainer.cycle() == 1  # past half its bound: explained, backlog or not
        assert model.texts == [[report]]
        assert await explained(db, "intent_spike") is None
        assert await explainer.cycle() == 0  # the spike is held back while the backlog lasts
        load[0] = Load.IDLE
        assert await explainer.cycle() == 1
    finally:
        await store.close()

    fraud = await explained(db, "fraud_intent")
    assert fraud is not None and fraud["evidence_details"][0]["intent_explanation"]
    spike = await explained(db, "intent_spike")
    assert spike is not None and len(spike["evidence"]) == len(SPIKE_TEXTS)
    # A few representatives, not all 20: the newest and the two the model was surest of.
    representatives = [spike_ids[i] for i in (*CONFIDENT, len(SPIKE_TEXTS) - 1)]
    assert [d["event_id"] for d in spike["evidence_details"]] == representatives
    assert all(d["intent_explanation"] and d["explanation"] for d in spike["evidence_details"])
    assert sorted(model.texts[1]) == sorted(SPIKE_TEXTS[i] for i in (*CONFIDENT, len(SPIKE_TEXTS) - 1))
    seconds = {
        p: explainer.metrics.registry.get_sample_value("monitor_explain_model_seconds_total", {"priority": p})
        for p in ("urgent", "routine")
    }
    assert all(s is not None and s > 0 for s in seconds.values()), seconds


async def test_a_routine_alert_held_back_past_its_bound_goes_out_without_words(
    database_url: str, db: asyncpg.Connection, scorer
) -> None:  # type: ignore[no-untyped-def]
    await raise_spike_and_fraud(database_url, db)
    model = FakeExplainer(scorer)
    store = alert_store(database_url, rules())
    policy = ExplainPolicy(timeout_s=30.0)
    explainer = AlertExplainer(
        AlertsDatabase(store.engine), model, scorer.model_version, policy, load=lambda: Load.LIVE
    )
    explainer.budget.spend(policy.budget.allowance_s)  # the minute's allowance is used up
    try:
        assert await explainer.cycle() == 1  # the fraud report: urgent goes beyond the budget
        assert await explainer.cycle() == 0  # the spike waits for the budget
        await db.execute(
            "UPDATE alert_notifications SET created_at = now() - interval '40 seconds' WHERE payload->>'rule' = $1",
            "intent_spike",
        )
        assert await explainer.cycle() == 1  # released past its bound
    finally:
        await store.close()

    spike = await explained(db, "intent_spike")
    assert spike is not None and spike["evidence_details"] == []
    assert len(model.texts) == 1
    skipped = explainer.metrics.registry.get_sample_value
    assert skipped("monitor_alert_explanations_skipped_total", {"reason": "budget"}) == 1
    assert skipped("monitor_alert_explanations_skipped_total", {"reason": "timeout"}) == 0
