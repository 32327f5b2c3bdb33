"""Fraud reports in everyday wording, through the service with the shipped rules and model.

The reports and requests are this project's own wording (tests/data/fraud_probe.csv), never in
the training data. Each comes from its own customer, so each fraud report is its own alert.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import asyncpg
import pytest

from monitor.alerts.config import load_rules
from tests.integration.running import service_running, settings_for
from tests.kafka_helpers import fresh_topics, produce
from tests.waiting import wait_for_rows

pytestmark = pytest.mark.integration

PROBE = Path(__file__).parents[1] / "data" / "fraud_probe.csv"
WATCH_LIST = set(load_rules().rules.fraud_intent.intents)
"""The shipped fraud_intent rule's watch list."""


def probe(label: str, n: int) -> list[str]:
    with PROBE.open(newline="", encoding="utf-8") as f:
        return [r["text"] for r in csv.DictReader(f) if r["label"] == label][:n]


async def test_fraud_reports_alert_and_ordinary_requests_do_not(
    broker, database_url: str, db: asyncpg.Connection, scorer
) -> None:  # type: ignore[no-untyped-def]
    news, customer = await fresh_topics(broker.bootstrap, partitions=2)
    reports, requests = probe("fraud", 8), probe("ordinary", 8)
    messages = [{"id": f"f{i}", "text": t, "customer_id": f"victim-{i}"} for i, t in enumerate(reports)]
    messages += [{"id": f"o{i}", "text": t, "customer_id": f"asker-{i}"} for i, t in enumerate(requests)]
    await produce(broker.bootstrap, customer, messages)
    async with service_running(settings_for(broker.bootstrap, database_url, news, customer), scorer):
        assert await wait_for_rows(db, "scored_events", len(messages)) == len(messages)

    alerts = await db.fetch("SELECT entity, evidence, evidence_details FROM alerts WHERE rule = 'fraud_intent'")
    alerted = {a["entity"] for a in alerts}
    assert len(alerted & {f"victim-{i}" for i in range(8)}) >= 7
    assert len(alerted & {f"asker-{i}" for i in range(8)}) <= 1
    for alert in alerts:
        [detail] = json.loads(alert["evidence_details"])
        assert detail["event_id"] == alert["evidence"][0]
        assert detail["probability"] >= 0.5
        assert set(detail["intents"]) <= WATCH_LIST
        assert sum(detail["intents"].values()) == pytest.approx(detail["probability"], abs=1e-4)

    # The customer's own mood, not what the text would mean for a company's shares.
    moods = await db.fetch("SELECT message_id, sentiment, intent_probabilities FROM scored_events")
    by_id = {m["message_id"]: m for m in moods}
    assert sum(by_id[f"f{i}"]["sentiment"] == "negative" for i in range(8)) >= 7
    assert all(m["intent_probabilities"] is not None for m in moods)
