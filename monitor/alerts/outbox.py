"""The dispatcher's SQL: claim due deliveries, record every attempt, disable and give up.

A claim does not hold a transaction open across the HTTP request: it takes due rows with
`FOR UPDATE SKIP LOCKED` (replicas never claim the same row) and leases them by moving
`next_attempt_at` forward. A replica that dies mid-delivery loses nothing: the lease runs out and
any replica sends it again, under the same webhook-id, which receivers de-duplicate on. Only
ready notifications are claimed: those the explainer has finished with (`explained_at`).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from monitor.alerts.retry import DeliveryStatus
from monitor.db.connection import transaction
from monitor.db.schema import WebhookEndpointRow


@dataclass(frozen=True, slots=True)
class Claimed:
    """One notification leased to this replica for one endpoint."""

    notification_id: UUID
    endpoint: str
    attempt: int
    """1 for the first attempt."""
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class EndpointState:
    url: str
    disabled_at: datetime | None
    disabled_reason: str | None
    pending: int
    dropped: int
    """Notifications not sent because the endpoint was disabled (`enable --resend` queues them)."""


_ENDPOINTS = text("""
SELECT e.url, e.disabled_at, e.disabled_reason,
       count(*) FILTER (WHERE o.status = 'pending') AS pending,
       count(*) FILTER (WHERE o.status = 'disabled') AS dropped
FROM webhook_endpoints e LEFT JOIN alert_outbox o ON o.endpoint = e.url
GROUP BY e.url ORDER BY e.url
""")

_CLAIM = text("""
WITH due AS (
    SELECT o.notification_id, o.endpoint
    FROM alert_outbox o JOIN alert_notifications n ON n.id = o.notification_id
    WHERE o.endpoint = :endpoint AND o.status = 'pending' AND o.next_attempt_at <= now()
      AND n.explained_at IS NOT NULL
    ORDER BY o.next_attempt_at
    LIMIT :limit
    FOR UPDATE OF o SKIP LOCKED
)
UPDATE alert_outbox o
SET attempts = o.attempts + 1, next_attempt_at = now() + make_interval(secs => :lease_s)
FROM due, alert_notifications n
WHERE o.notification_id = due.notification_id AND o.endpoint = due.endpoint
  AND n.id = o.notification_id
RETURNING o.notification_id, o.endpoint, o.attempts, n.payload, n.created_at
""")

_GIVE_UP_EXPIRED = text("""
UPDATE alert_outbox
SET status = 'gave_up', finished_at = now(),
    last_error = coalesce(last_error, 'no attempt') || ' (gave up)'
WHERE endpoint = :endpoint AND status = 'pending'
  AND created_at < now() - make_interval(secs => :give_up_s)
RETURNING notification_id
""")

_RECORD = text("""
UPDATE alert_outbox
SET status = CASE
        WHEN :outcome = 'delivered' THEN 'delivered'
        WHEN :outcome = 'disable' THEN 'disabled'
        WHEN now() + make_interval(secs => :delay_s)
             > created_at + make_interval(secs => :give_up_s) THEN 'gave_up'
        ELSE 'pending' END,
    next_attempt_at = now() + make_interval(secs => :delay_s),
    last_status_code = :status_code,
    last_error = :error
WHERE notification_id = :notification_id AND endpoint = :endpoint
RETURNING status
""")

_FINISH = text("""
UPDATE alert_outbox SET finished_at = now()
WHERE notification_id = :notification_id AND endpoint = :endpoint AND status <> 'pending'
""")

_DELIVERY = text("""
INSERT INTO alert_deliveries
    (notification_id, endpoint, attempt, status_code, error, duration_ms, attempted_at)
VALUES (:notification_id, :endpoint, :attempt, :status_code, :error, :duration_ms, :attempted_at)
""")


class Outbox:
    """Delivery state in Postgres, shared by every replica's dispatcher."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def _txn(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """Every query here runs in one of these: a lost connection raises `StoreUnavailable`."""
        return transaction(self.engine)

    async def register(self, urls: Sequence[str]) -> None:
        """Make sure every configured endpoint has a row (where a 410 is recorded)."""
        if not urls:
            return
        async with self._txn() as conn:
            await conn.execute(
                insert(WebhookEndpointRow).on_conflict_do_nothing(index_elements=["url"]),
                [{"url": url} for url in urls],
            )

    async def endpoints(self) -> list[EndpointState]:
        """Every endpoint ever configured, with its state and its deliveries still to make."""
        async with self._txn() as conn:
            rows = await conn.execute(_ENDPOINTS)
            return [EndpointState(r.url, r.disabled_at, r.disabled_reason, r.pending, r.dropped) for r in rows]

    async def enable(self, url: str, *, resend: bool = False) -> int | None:
        """Clear a disabled endpoint (after its owner fixed it); None if no such endpoint.

        With `resend`, notifications dropped while it was disabled are queued again as new
        (attempts and give-up clock reset); returns how many.
        """
        async with self._txn() as conn:
            found = await conn.execute(
                text("UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = NULL WHERE url = :u"),
                {"u": url},
            )
            if not found.rowcount:
                return None
            if not resend:
                return 0
            requeued = await conn.execute(
                text(
                    "UPDATE alert_outbox SET status = 'pending', attempts = 0, next_attempt_at = now(),"
                    " created_at = now(), finished_at = NULL, last_error = NULL, last_status_code = NULL"
                    " WHERE endpoint = :u AND status = 'disabled'"
                ),
                {"u": url},
            )
            return int(requeued.rowcount)

    async def disabled_reason(self, url: str) -> str | None:
        """Why the endpoint is disabled, or None while it is enabled."""
        async with self._txn() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT disabled_at, disabled_reason FROM webhook_endpoints WHERE url = :u"
                    ),
                    {"u": url},
                )
            ).first()
        if row is None or row.disabled_at is None:
            return None
        return str(row.disabled_reason or "disabled")

    async def drop_pending(self, url: str) -> int:
        """Pending deliveries to a disabled endpoint become `disabled` (visible, not sent)."""
        async with self._txn() as conn:
            rows = await conn.execute(
                text(
                    "UPDATE alert_outbox SET status = 'disabled', finished_at = now() "
                    "WHERE endpoint = :u AND status = 'pending' RETURNING notification_id"
                ),
                {"u": url},
            )
            return len(rows.all())

    async def give_up_expired(self, url: str, give_up_s: float) -> list[UUID]:
        async with self._txn() as conn:
            rows = await conn.execute(_GIVE_UP_EXPIRED, {"endpoint": url, "give_up_s": give_up_s})
            return [r.notification_id for r in rows]

    async def claim(self, url: str, limit: int, lease_s: float) -> list[Claimed]:
        async with self._txn() as conn:
            rows = await conn.execute(_CLAIM, {"endpoint": url, "limit": limit, "lease_s": lease_s})
            return [
                Claimed(r.notification_id, r.endpoint, r.attempts, r.payload, r.created_at)
                for r in rows
            ]

    async def record(
        self,
        claimed: Claimed,
        *,
        outcome: str,
        status_code: int | None,
        error: str | None,
        duration_ms: float,
        attempted_at: datetime,
        delay_s: float,
        give_up_s: float,
    ) -> DeliveryStatus:
        """Record one attempt and its consequence in one transaction; returns the new status."""
        keys = {"notification_id": claimed.notification_id, "endpoint": claimed.endpoint}
        async with self._txn() as conn:
            await conn.execute(
                _DELIVERY,
                {
                    **keys,
                    "attempt": claimed.attempt,
                    "status_code": status_code,
                    "error": error,
                    "duration_ms": duration_ms,
                    "attempted_at": attempted_at,
                },
            )
            status = (
                await conn.execute(
                    _RECORD,
                    {
                        **keys,
                        "outcome": outcome,
                        "delay_s": delay_s,
                        "give_up_s": give_up_s,
                        "status_code": status_code,
                        "error": error,
                    },
                )
            ).scalar_one()
            await conn.execute(_FINISH, keys)
            if outcome == "disable":
                await conn.execute(
                    text(
                        "UPDATE webhook_endpoints SET disabled_at = now(), disabled_reason = :r "
                        "WHERE url = :u AND disabled_at IS NULL"
                    ),
                    {"u": claimed.endpoint, "r": f"HTTP {status_code} Gone"},
                )
            return DeliveryStatus(status)
