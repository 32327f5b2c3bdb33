"""The alert explainer's statements (`monitor.alerts.explainer`): the release past the bound, the
claims by priority, the reads of evidence, and the write that makes a notification ready (the
alert's own details are merged by `AlertStore.merge_reasons`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Double, Select, Update, cast, extract, func, not_, or_, select, text, update
from sqlalchemy.sql.dml import ReturningUpdate

from monitor.alerts.budget import URGENT_SEVERITIES
from monitor.db.schema import AlertNotificationRow

N = AlertNotificationRow


def _waiting() -> ColumnElement[bool]:
    return N.explained_at.is_(None)


def _urgent() -> ColumnElement[bool]:
    return func.coalesce(N.payload["severity"].astext, "").in_(sorted(URGENT_SEVERITIES))


def release_expired(timeout_s: float) -> ReturningUpdate[UUID]:
    """Notifications that waited past the bound (and are not being explained now) go without reasons."""
    return (
        update(N)
        .where(_waiting(), N.created_at < func.now() - timedelta(seconds=timeout_s))
        .where(or_(N.explaining_until.is_(None), N.explaining_until < func.now()))
        .values(explained_at=func.now(), explaining_until=None)
        .returning(N.id)
    )


def claim(
    *, urgent: bool, limit: int, lease_s: float, timeout_s: float, min_age_s: float = 0.0
) -> ReturningUpdate[Any]:
    """Lease the oldest `limit` urgent (else routine) notifications at least `min_age_s` old and
    waiting within the bound; replicas skip each other's (`SKIP LOCKED`)."""
    due = (
        select(N.id)
        .where(_waiting(), or_(N.explaining_until.is_(None), N.explaining_until < func.now()))
        .where(N.created_at >= func.now() - timedelta(seconds=timeout_s))
        .where(N.created_at <= func.now() - timedelta(seconds=min_age_s))
        .where(_urgent() if urgent else not_(_urgent()))
        .order_by(N.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    age_s = cast(extract("epoch", func.now() - N.created_at), Double).label("age_s")
    return (
        update(N)
        .where(N.id == due.c.id)
        .values(explaining_until=func.now() + timedelta(seconds=lease_s))
        .returning(N.id, N.alert_id, N.payload, age_s)
    )


def routine_waiting(timeout_s: float) -> Select[UUID]:
    """Routine notifications still waiting for reasons within the bound (some)."""
    return (
        select(N.id)
        .where(_waiting(), N.created_at >= func.now() - timedelta(seconds=timeout_s), not_(_urgent()))
        .limit(1000)
    )


CONFIDENCES = text("SELECT id, sentiment_confidence, intent_confidence FROM scored_events WHERE id = ANY(:ids)")

EVENTS = text("""
SELECT id, stream, text, language, sentiment, sentiment_score, sentiment_confidence, intent,
       intent_confidence, intent_probabilities
FROM scored_events WHERE id = ANY(:ids)
""")

CACHED = text("""
SELECT x.event_id, x.model_version, e.language, x.sentiment, x.intent
FROM event_explanations x JOIN scored_events e ON e.id = x.event_id
WHERE x.event_id = ANY(:ids)
""")
"""Explanations stored before, with the model that made them and the event's language: one is
reused only while that language's model (`AlertExplainer.version_of`) is still the one serving."""

def ready(notification_id: UUID, payload: dict[str, Any]) -> Update:
    """The notification with its reasons, ready to send (unless the release sent it meanwhile)."""
    return (
        update(N)
        .where(N.id == notification_id, _waiting())
        .values(payload=payload, explained_at=func.now(), explaining_until=None)
    )
