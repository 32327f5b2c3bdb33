"""model_drift in Postgres: raised through the outbox when a stream's live scores drift, resolved
when they come back; the done-when scenario runs the service with the real model and broker."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from monitor import drift
from monitor.alerts.config import parse_rules
from monitor.alerts.drift import DriftWatch
from monitor.alerts.store import AlertStore
from monitor.batch import WriteBatch
from monitor.db.connection import make_engine
from monitor.db.store import Store
from monitor.metrics import Metrics
from monitor.records import Message, ScoredEvent, Scores

pytestmark = pytest.mark.integration

VERSION = "model-under-watch"
NEWS = {"negative": 0.15, "neutral": 0.6, "positive": 0.25}
_ids = iter(range(10**9))


def news_events(
    n: int, shares: dict[str, float], confidence: float, seed: int, version: str = VERSION
) -> list[ScoredEvent]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    out = []
    for label in rng.choices(list(shares), weights=list(shares.values()), k=n):
        i = next(_ids)
        message = Message("news", f"n{i}", "news", 0, i, f"headline {i}", now)
        conf = min(1.0, max(0.34, rng.gauss(confidence, 0.1)))
        out.append(ScoredEvent(message, Scores(label, 0.0, round(conf, 4)), (), version, now))  # type: ignore[arg-type]
    return out


def reference() -> drift.Reference:
    labels, confidences = [], []
    for e in news_events(4000, NEWS, 0.8, seed=1):
        labels.append(e.scores.sentiment)
        confidences.append(e.scores.sentiment_confidence)
    return drift.Reference(VERSION, {("news", "sentiment"): drift.summarise(labels, confidences)})


async def test_drift_raises_through_the_outbox_and_resolves_when_the_stream_comes_back(
    database_url: str, db: asyncpg.Connection
) -> None:
    config = parse_rules("rules:\n  model_drift:\n    window_events: 300\n    min_events: 200\n")
    alerts = AlertStore(config, ("http://receiver.invalid/hook",))
    store = Store(make_engine(database_url), on_inserted=alerts)
    metrics = Metrics()
    watch = DriftWatch(config, alerts, VERSION, reference(), metrics)
    try:
        assert await watch.check(store.engine) == []  # nothing to judge yet
        await store.write(WriteBatch(events=news_events(300, NEWS, 0.8, seed=2)))
        # Another version's scores (a replica mid-rollout) and rescored history are not this window.
        await store.write(WriteBatch(events=news_events(300, {"negative": 1.0}, 0.5, seed=3, version="other")))
        [ordinary] = await watch.check(store.engine)
        assert not ordinary.drifted and ordinary.n == 300 and ordinary.reference == "shipped"
        assert await db.fetchval("SELECT count(*) FROM alerts") == 0

        await store.write(WriteBatch(events=news_events(300, {"negative": 0.8, "neutral": 0.2}, 0.55, seed=4)))
        [drifted] = await watch.check(store.engine)
        assert drifted.drifted and drifted.psi > 0.25
        await watch.check(store.engine)  # still drifted: the open alert is updated, not raised again
        row = await db.fetchrow("SELECT rule, entity, status, severity, event_count, evidence_details FROM alerts")
        assert (row["rule"], row["entity"], row["status"]) == ("model_drift", "news/sentiment", "firing")
        assert row["severity"] == "medium"
        assert row["event_count"] == 300
        assert json.loads(row["evidence_details"])[0]["statistics"]["psi"] > 0.25
        assert 'monitor_model_drift{stream="news",task="sentiment"}' in metrics.render().decode()

        await store.write(WriteBatch(events=news_events(300, NEWS, 0.8, seed=5)))
        [back] = await watch.check(store.engine)
        assert not back.drifted
        kinds = await db.fetch(
            "SELECT n.kind FROM alert_notifications n JOIN alert_outbox o ON o.notification_id = n.id "
            "ORDER BY n.created_at"
        )
        assert [k["kind"] for k in kinds] == ["firing", "resolved"]
        assert await db.fetchval("SELECT status FROM alerts") == "resolved"
    finally:
        await store.close()


async def test_without_a_shipped_reference_the_trailing_baseline_is_the_reference(
    database_url: str, db: asyncpg.Connection
) -> None:
    config = parse_rules("rules:\n  model_drift:\n    window: 1h\n    min_baseline_events: 300\n")
    alerts = AlertStore(config, ())
    store = Store(make_engine(database_url), on_inserted=alerts)
    watch = DriftWatch(config, alerts, VERSION, None)
    try:
        await store.write(WriteBatch(events=news_events(400, NEWS, 0.8, seed=6)))
        # Yesterday's scores, as the trailing baseline sees them.
        await db.execute("UPDATE event_scores SET scored_at = now() - interval '2 hours'")
        assert await watch.check(store.engine) == []  # no window yet
        await store.write(WriteBatch(events=news_events(300, {"negative": 0.9, "positive": 0.1}, 0.5, seed=7)))
        [result] = await watch.check(store.engine)
        assert result.drifted and result.reference == "baseline"
        assert await db.fetchval("SELECT entity FROM alerts WHERE status = 'firing'") == "news/sentiment"
    finally:
        await store.close()


async def test_the_chinese_models_drift_is_its_own_alert_beside_the_english_ones(
    database_url: str, db: asyncpg.Connection
) -> None:
    """Two models, two watches: Chinese headlines that turn negative raise `news/sentiment/zh`
    against the Chinese model's own baseline; the English model's steady scores raise nothing."""
    config = parse_rules("rules:\n  model_drift:\n    window: 1h\n    min_baseline_events: 300\n")
    alerts = AlertStore(config, ())
    store = Store(make_engine(database_url), on_inserted=alerts)
    metrics = Metrics()
    english = DriftWatch(config, alerts, VERSION, reference(), metrics)
    chinese = DriftWatch(config, alerts, "e5-zh", None, language="zh")
    try:
        await store.write(WriteBatch(events=news_events(400, NEWS, 0.8, seed=8, version="e5-zh")))
        await db.execute("UPDATE event_scores SET scored_at = now() - interval '2 hours'")
        await store.write(WriteBatch(events=news_events(300, NEWS, 0.8, seed=9)))
        await store.write(WriteBatch(events=news_events(300, {"negative": 0.9, "positive": 0.1}, 0.5, seed=10,
                                                        version="e5-zh")))
        [steady] = await english.check(store.engine)
        [moved] = await chinese.check(store.engine)
    finally:
        await store.close()
    assert not steady.drifted and steady.entity == "news/sentiment"
    assert moved.drifted and moved.reference == "baseline" and moved.as_json()["language"] == "zh"
    rows = await db.fetch("SELECT entity, status FROM alerts WHERE rule = 'model_drift'")
    assert [tuple(r) for r in rows] == [("news/sentiment/zh", "firing")]
    gauges = [line for line in metrics.render().decode().splitlines() if line.startswith("monitor_model_drift{")]
    assert gauges == [f'monitor_model_drift{{stream="news",task="sentiment"}} {steady.psi}'], "the gauge stays English"


HEADLINES = 2_000
TWEETS = 1_500
RAISE_WITHIN_S = 120.0


def _texts(data_dir: Path) -> tuple[list[str], list[str]]:
    """Ordinary headlines (FPB and TFNS training texts) and customer tweets (customer_voice)."""
    from monitor.model.training.data import hash_split, read_labelled

    rng = random.Random(20)
    fpb = read_labelled(data_dir / "fpb" / "train.csv")[0]
    (tfns, _), _ = hash_split(*read_labelled(data_dir / "tfns" / "train.csv"))
    (tweets, _), _ = hash_split(*read_labelled(data_dir / "customer_voice" / "train.csv"))
    return rng.sample(fpb + tfns, HEADLINES), rng.sample(tweets, TWEETS)


async def test_done_when_ordinary_headlines_raise_nothing_and_tweets_on_the_news_topic_raise_drift(  # noqa: PLR0917
    broker, database_url: str, db: asyncpg.Connection, scorer, data_dir: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from monitor.alerts.config import default_rules_path, load_rules
    from monitor.model.reference import load_reference, save_reference
    from monitor.model.training.reference import compute_reference
    from monitor.tools.receiver import WebhookReceiver, new_webhook_secret
    from tests.integration.running import service_running, settings_for
    from tests.kafka_helpers import fresh_topics, produce
    from tests.waiting import until, wait_for_rows

    # The reference as it ships with the model: this model's dev-set predictions.
    reference = tmp_path / "reference.json"
    save_reference(compute_reference(scorer, data_dir), reference)
    rules = tmp_path / "rules.yaml"
    rules.write_text(default_rules_path().read_text().replace("check_every: 30s", "check_every: 5s"))
    headlines, tweets = _texts(data_dir)
    news, customer = await fresh_topics(broker.bootstrap, partitions=2)
    secret = new_webhook_secret()
    receiver = WebhookReceiver([secret]).start()
    settings = settings_for(
        broker.bootstrap, database_url, news, customer, rules_file=rules, drift_reference=reference,
        webhook_url=(receiver.url,), webhook_secret=secret, dispatch_poll_interval_s=0.2,
    )

    def drift_deliveries() -> list[dict[str, object]]:
        return [d.payload for d in receiver.delivered if d.payload["rule"] == "model_drift"]

    try:
        async with service_running(settings, scorer):
            await produce(broker.bootstrap, news, [{"id": f"h{i}", "headline": t} for i, t in enumerate(headlines)])
            # Stored, scored or not: a few PhraseBank lines are French or German (no scores).
            assert await wait_for_rows(db, "scored_events", HEADLINES, within_s=300) == HEADLINES
            # One more round over the full window, judged here as one more replica would (it raises
            # the alert as the service's chore does): then neither it nor the chore's rounds while
            # the headlines were scored raised one.
            watch = DriftWatch(load_rules(rules), AlertStore(load_rules(rules), ()), scorer.model_version,
                               load_reference(reference))
            engine = make_engine(database_url)
            try:
                [headlines_seen] = await watch.check(engine)
            finally:
                await engine.dispose()
            print(f"2,000 headlines: {headlines_seen.as_json()}")
            assert not headlines_seen.drifted and headlines_seen.n == 500
            ordinary = await db.fetchval("SELECT count(*) FROM alerts WHERE rule = 'model_drift'")
            assert ordinary == 0, await db.fetch("SELECT entity, evidence_details FROM alerts")
            assert await db.fetchval("SELECT count(*) FROM scored_events") == HEADLINES

            started = time.monotonic()
            await produce(broker.bootstrap, news, [{"id": f"t{i}", "headline": t} for i, t in enumerate(tweets)])
            await until(lambda: bool(drift_deliveries()), RAISE_WITHIN_S, every_s=0.5)
            took_s = time.monotonic() - started
    finally:
        receiver.stop()
    [alert] = drift_deliveries()
    assert alert["entity"] == "news/sentiment" and alert["status"] == "firing"
    row = await db.fetchrow("SELECT event_count, evidence_details FROM alerts WHERE rule = 'model_drift'")
    stats = json.loads(row["evidence_details"])[0]["statistics"]
    print(f"model_drift raised {took_s:.1f}s after the tweets were sent: {stats}")
    assert took_s < RAISE_WITHIN_S
