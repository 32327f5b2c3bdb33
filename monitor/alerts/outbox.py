"""The dispatcher's statements (SQLAlchemy Core): claim due deliveries, record every attempt,
disable and give up.

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
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, case, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from monitor.alerts.retry import DeliveryStatus
from monitor.db.connection import transaction
from monitor.db.schema import AlertDeliveryRow, AlertNotificationRow, AlertOutboxRow, WebhookEndpointRow


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


Out, N, E = AlertOutboxRow, AlertNotificationRow, WebhookEndpointRow
PENDING, DELIVERED, GAVE_UP, DISABLED = (
    DeliveryStatus.PENDING, DeliveryStatus.DELIVERED, DeliveryStatus.GAVE_UP, DeliveryStatus.DISABLED
)


def _seconds(s: float) -> timedelta:
    return timedelta(seconds=s)


def _too_old(after: timedelta, give_up_s: float) -> ColumnElement[bool]:
    """The give-up rule, once: a delivery whose next attempt would come `give_up_s` past its
    creation is given up (`after`: how far from now that next attempt is)."""
    return Out.created_at + _seconds(give_up_s) < func.now() + after


def _of(claimed: Claimed) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return Out.notification_id == claimed.notification_id, Out.endpoint == claimed.endpoint


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
            counted = (
                select(
                    E.url,
                    E.disabled_at,
                    E.disabled_reason,
                    func.count().filter(Out.status == PENDING).label("pending"),
                    func.count().filter(Out.status == DISABLED).label("dropped"),
                )
                .select_from(E)
                .outerjoin(Out, Out.endpoint == E.url)
                .group_by(E.url)
                .order_by(E.url)
            )
            rows = await conn.execute(counted)
            return [EndpointState(r.url, r.disabled_at, r.disabled_reason, r.pending, r.dropped) for r in rows]

    async def enable(self, url: str, *, resend: bool = False) -> int | None:
        """Clear a disabled endpoint (after its owner fixed it); None if no such endpoint.

        With `resend`, notifications dropped while it was disabled are queued again as new
        (attempts and give-up clock reset); returns how many.
        """
        async with self._txn() as conn:
            found = await conn.execute(update(E).where(E.url == url).values(disabled_at=None, disabled_reason=None))
            if not found.rowcount:
                return None
            if not resend:
                return 0
            requeued = await conn.execute(
                update(Out)
                .where(Out.endpoint == url, Out.status == DISABLED)
                .values(
                    status=PENDING, attempts=0, next_attempt_at=func.now(), created_at=func.now(),
                    finished_at=None, last_error=None, last_status_code=None,
                )
            )
            return int(requeued.rowcount)

    async def disabled_reason(self, url: str) -> str | None:
        """Why the endpoint is disabled, or None while it is enabled."""
        async with self._txn() as conn:
            row = (await conn.execute(select(E.disabled_at, E.disabled_reason).where(E.url == url))).first()
        if row is None or row.disabled_at is None:
            return None
        return str(row.disabled_reason or "disabled")

    async def drop_pending(self, url: str) -> int:
        """Pending deliveries to a disabled endpoint become `disabled` (visible, not sent)."""
        async with self._txn() as conn:
            rows = await conn.execute(
                update(Out)
                .where(Out.endpoint == url, Out.status == PENDING)
                .values(status=DISABLED, finished_at=func.now())
                .returning(Out.notification_id)
            )
            return len(rows.all())

    async def give_up_expired(self, url: str, give_up_s: float) -> list[UUID]:
        async with self._txn() as conn:
            rows = await conn.execute(
                update(Out)
                .where(Out.endpoint == url, Out.status == PENDING, _too_old(timedelta(0), give_up_s))
                .values(
                    status=GAVE_UP, finished_at=func.now(),
                    last_error=func.coalesce(Out.last_error, "no attempt").concat(" (gave up)"),
                )
                .returning(Out.notification_id)
            )
            return [r.notification_id for r in rows]

    async def claim(self, url: str, limit: int, lease_s: float) -> list[Claimed]:
        async with self._txn() as conn:
            due = (
                select(Out.notification_id, Out.endpoint)
                .join(N, N.id == Out.notification_id)
                .where(Out.endpoint == url, Out.status == PENDING, Out.next_attempt_at <= func.now())
                .where(N.explained_at.is_not(None))
                .order_by(Out.next_attempt_at)
                .limit(limit)
                .with_for_update(of=Out, skip_locked=True)
                .cte("due")
            )
            lease = (
                update(Out)
                .where(Out.notification_id == due.c.notification_id, Out.endpoint == due.c.endpoint)
                .where(N.id == Out.notification_id)
                .values(attempts=Out.attempts + 1, next_attempt_at=func.now() + _seconds(lease_s))
                .returning(Out.notification_id, Out.endpoint, Out.attempts, N.payload, N.created_at)
            )
            rows = await conn.execute(lease)
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
        if outcome == "delivered":
            status: DeliveryStatus | ColumnElement[str] = DELIVERED
        elif outcome == "disable":
            status = DISABLED
        else:
            status = case((_too_old(_seconds(delay_s), give_up_s), GAVE_UP), else_=PENDING)
        async with self._txn() as conn:
            await conn.execute(
                insert(AlertDeliveryRow).values(
                    notification_id=claimed.notification_id,
                    endpoint=claimed.endpoint,
                    attempt=claimed.attempt,
                    status_code=status_code,
                    error=error,
                    duration_ms=duration_ms,
                    attempted_at=attempted_at,
                )
            )
            now = (
                await conn.execute(
                    update(Out)
                    .where(*_of(claimed))
                    .values(
                        status=status,
                        next_attempt_at=func.now() + _seconds(delay_s),
                        last_status_code=status_code,
                        last_error=error,
                    )
                    .returning(Out.status)
                )
            ).scalar_one()
            await conn.execute(update(Out).where(*_of(claimed), Out.status != PENDING).values(finished_at=func.now()))
            if outcome == "disable":
                await conn.execute(
                    update(E)
                    .where(E.url == claimed.endpoint, E.disabled_at.is_(None))
                    .values(disabled_at=func.now(), disabled_reason=f"HTTP {status_code} Gone")
                )
            return DeliveryStatus(now)
