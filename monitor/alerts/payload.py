"""The JSON body of a webhook notification, built from plain alert data (pure).

The body is frozen into the outbox when the notification is written, so every retry sends the
same content under the same webhook-id, and what a receiver got can be read back in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

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


@dataclass
class AlertChanges:
    """What one batch's write did to alerts (filled in inside its transaction)."""

    raised: list[AlertView] = field(default_factory=list)
    """Alerts opened by this write (each counted once in `monitor_alerts_raised_total`)."""
    updated: int = 0
    """Open alerts that took new evidence."""
    notifications: int = 0
    """Notifications written to the outbox."""

    def merged(self, other: AlertChanges) -> AlertChanges:
        """Both writes' changes together."""
        return AlertChanges(
            [*self.raised, *other.raised], self.updated + other.updated, self.notifications + other.notifications
        )


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
