"""Building scored events and alert-aware stores for tests, without Kafka or the model."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from monitor.alerts.config import RulesConfig, parse_rules
from monitor.alerts.store import AlertStore
from monitor.batch import WriteBatch
from monitor.db.connection import make_engine
from monitor.db.store import Store
from monitor.records import Message, ScoredEvent, Scores

_offsets = itertools.count()


def news_event(
    message_id: str,
    *,
    entities: tuple[str, ...] = ("ZTX",),
    sentiment: str = "negative",
    age_s: float = 0.0,
    partition: int = 0,
) -> ScoredEvent:
    now = datetime.now(UTC)
    message = Message(
        stream="news",
        message_id=message_id,
        topic="news",
        partition=partition,
        offset=next(_offsets),
        text=f"headline {message_id}",
        event_time=now - timedelta(seconds=age_s),
        tickers=entities,
    )
    return ScoredEvent(message, Scores(sentiment, -0.8, 0.9), entities, "test", now)  # type: ignore[arg-type]


def customer_event(
    message_id: str, customer_id: str, intent: str, confidence: float = 0.9, *, text: str | None = None
) -> ScoredEvent:
    now = datetime.now(UTC)
    message = Message(
        stream="customer",
        message_id=message_id,
        topic="customer",
        partition=0,
        offset=next(_offsets),
        text=text or f"text {message_id}",
        event_time=now,
        customer_id=customer_id,
    )
    return ScoredEvent(message, Scores("neutral", 0.0, 0.9, intent, confidence), (), "test", now)


def batch(*events: ScoredEvent) -> WriteBatch:
    return WriteBatch(events=list(events))


def rules(text: str = "") -> RulesConfig:
    return parse_rules(text)


def alert_store(
    database_url: str, config: RulesConfig, endpoints: tuple[str, ...] = (), *, explain: bool = False
) -> Store:
    """A Store on its own engine (its own connections: a replica of its own); `explain`: its
    notifications with evidence wait for an explainer."""
    return Store(make_engine(database_url), on_inserted=AlertStore(config, endpoints, explain=explain))
