"""The JSON body of a webhook notification, built from plain alert data (pure).

The body is frozen into the outbox when the notification is written, so every retry sends the
same content under the same webhook-id, and what a receiver got can be read back in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from monitor.batch import RaisedAlert
from monitor.masking import ALL_KINDS, Kind, mask_json


@dataclass(frozen=True, slots=True)
class AlertView:
    """An alert as analysts, the CLI and webhook receivers see it."""

    id: UUID
    rule: str
    severity: str
    entity: str
    status: str
    """firing | resolved"""
    first_seen: datetime
    last_seen: datetime
    event_count: int
    evidence: tuple[int, ...]
    """scored_events ids, most recent last."""
    resolved_at: datetime | None = None
    evidence_details: tuple[dict[str, Any], ...] = ()
    """Why evidence counted, per event (fraud_intent: the watch-list intents and their summed
    probability)."""


def raised_alert(alert: AlertView) -> RaisedAlert:
    """What the core is told of an alert a write opened."""
    return RaisedAlert(alert.id, alert.rule, alert.severity, alert.entity, alert.event_count)


def sql_hint(alert: AlertView) -> str:
    """A query an analyst can paste to see the alert and the events behind it."""
    ids = ",".join(str(i) for i in alert.evidence) or "0"
    # A hint for a person, never executed; the values are a UUID and integers.
    alert_query = f"SELECT * FROM alerts WHERE id = '{alert.id}';"  # noqa: S608
    columns = "id, stream, event_time, entities, sentiment, intent, text"
    events_query = f"SELECT {columns} FROM scored_events WHERE id IN ({ids}) ORDER BY event_time"  # noqa: S608
    return f"{alert_query} {events_query}"


def notification_body(
    alert: AlertView, kind: str, sent_for: datetime, mask_kinds: frozenset[Kind] = ALL_KINDS
) -> dict[str, Any]:
    """`kind` is firing, repeat or resolved; personal identifiers are masked whatever the fields hold."""
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
