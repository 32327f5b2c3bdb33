"""The JSON body of a webhook notification, built from plain alert data (pure).

The body is written with the notification. Where an explainer runs, it is completed once, before
the notification is ready to send, with the evidence's words (`monitor.alerts.reasons.with_reasons`);
from then on it is frozen, so every retry sends the same content under the same webhook-id, and
what a receiver got can be read back in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import Select, column, literal_column, select, table
from sqlalchemy.dialects.postgresql.base import PGDialect

from monitor.batch import RaisedAlert
from monitor.masking import ALL_KINDS, Kind, mask_json


class AlertStatus(StrEnum):
    """`alerts.status` (its CHECK constraint)."""

    FIRING = "firing"
    RESOLVED = "resolved"


class Page(StrEnum):
    """Why a notification was written (`alert_notifications.kind`; the body's `type` is `alert.<page>`)."""

    FIRING = "firing"
    REPEAT = "repeat"
    """Still firing, more evidence, the cooldown passed."""
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class AlertView:
    """An alert as analysts, the CLI and webhook receivers see it."""

    id: UUID
    rule: str
    severity: str
    entity: str
    status: AlertStatus
    first_seen: datetime
    last_seen: datetime
    event_count: int
    evidence: tuple[int, ...]
    """scored_events ids, most recent last."""
    resolved_at: datetime | None = None
    evidence_details: tuple[dict[str, Any], ...] = ()
    """Why evidence counted, per event (fraud_intent: the watch-list intents and their summed
    probability)."""
    last_notified_at: datetime | None = None
    """When it was last paged (its cooldown runs from here); not part of the webhook body."""


def raised_alert(alert: AlertView) -> RaisedAlert:
    """What the core is told of an alert a write opened."""
    return RaisedAlert(alert.id, alert.rule, alert.severity, alert.entity, alert.event_count)


_ALERTS = table("alerts", column("id"))
_EVENTS = table(
    "scored_events", *(column(c) for c in ("id", "stream", "event_time", "entities", "sentiment", "intent", "text"))
)


_POSTGRES = PGDialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves the dialects' constructors untyped


def sql_hint(alert: AlertView) -> str:
    """Queries an analyst can paste to see the alert and the events behind it (rendered by
    SQLAlchemy with the values inlined: a hint for a person, never executed)."""
    alert_query: Select[Any] = select(literal_column("*")).select_from(_ALERTS).where(_ALERTS.c.id == str(alert.id))
    events_query = select(_EVENTS).where(_EVENTS.c.id.in_(alert.evidence or (0,))).order_by(_EVENTS.c.event_time)
    return " ".join(_one_line(query) for query in (alert_query, events_query))


def _one_line(query: Select[Any]) -> str:
    rendered = query.compile(dialect=_POSTGRES, compile_kwargs={"literal_binds": True})
    return " ".join(str(rendered).split()) + ";"


def notification_body(
    alert: AlertView, kind: Page, sent_for: datetime, mask_kinds: frozenset[Kind] = ALL_KINDS
) -> dict[str, Any]:
    """Personal identifiers are masked whatever the fields hold."""
    body = {
        "type": f"alert.{kind}",
        "timestamp": sent_for.isoformat(),
        "id": str(alert.id),
        "rule": alert.rule,
        "severity": alert.severity,
        "entity": alert.entity,
        "status": alert.status,
        "first_seen": alert.first_seen.isoformat(),
        "last_seen": alert.last_seen.isoformat(),
        "event_count": alert.event_count,
        "evidence": list(alert.evidence),
        "evidence_details": list(alert.evidence_details),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "sql": sql_hint(alert),
    }
    return mask_json(body, mask_kinds).value  # type: ignore[no-any-return]
