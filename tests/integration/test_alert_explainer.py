"""The explainer against real Postgres and the real model: what it claims, and a storm explained at once."""

from __future__ import annotations

import json
from collections.abc import Sequence

import asyncpg
import pytest

from monitor.alerts.explainer import AlertExplainer, ExplainPolicy
from monitor.explanation import Reasons
from monitor.records import Scores, Stream
from tests.alert_helpers import alert_store, batch, customer_event, rules

pytestmark = pytest.mark.integration

REPORTS = [
    "my card was stolen this morning, please block it",
    "there is a payment on my card that I never made",
    "someone took cash out with my card and it was not me",
    "I lost my card on the train, can you freeze it",
    "a direct debit came out of my account that I never set up",
    "I think my card details were stolen online",
]


class CountingExplainer:
    """The real model's explanations, with each call's texts recorded."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.calls: list[list[str]] = []

    def explain(
        self,
        texts: Sequence[str],
        streams: Sequence[Stream],
        top_k: int | None = None,
        scores: Sequence[Scores] | None = None,
    ) -> list[Reasons]:
        self.calls.append(list(texts))
        return self.inner.explain(texts, streams, top_k, scores)  # type: ignore[no-any-return]


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
    model = CountingExplainer(scorer)
    store = alert_store(database_url, rules())
    explainer = AlertExplainer(store.engine, model, scorer.model_version, ExplainPolicy(timeout_s=120.0))
    try:
        assert await explainer.cycle() == len(REPORTS)
    finally:
        await store.close()

    assert [sorted(call) for call in model.calls] == [sorted(REPORTS)]
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
    explainer = AlertExplainer(store.engine, CountingExplainer(scorer), scorer.model_version, ExplainPolicy(30.0))
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
