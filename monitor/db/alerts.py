"""The alerts tables' one owner: every statement against `alerts`, `alert_notifications`,
`alert_outbox`, `alert_deliveries`, `webhook_endpoints` and `event_explanations`, and the reads of
`scored_events` that the rules and the explainer make, in SQLAlchemy Core.

Three faces (`monitor.alerts.ports`): `AlertTables` bound to one open transaction (the rules'
judging and writing, inside a batch's transaction or a chore's; the explainer's claims and merges),
`Outbox` (the dispatcher's deliveries, each call its own transaction) and `expire` (retention).

Why the advisory lock: two replicas may each insert part of one entity's burst. Each takes a
transaction-scoped advisory lock on (rule, entity) *after* inserting its events and *before*
counting the window, so whichever counts second waits for the first to commit and then sees both
halves: one of them raises the alert, never neither. The unique partial index on open alerts is the
backstop (`ON CONFLICT DO NOTHING`), so never two either. Locks are taken in one global order (the
key), so two batches touching the same entities cannot deadlock on them.

A delivery claim does not hold a transaction open across the HTTP request: it takes due rows with
`FOR UPDATE SKIP LOCKED` and leases them by moving `next_attempt_at` forward. A replica that dies
mid-delivery loses nothing: the lease runs out and any replica sends it again, under the same
webhook-id, which receivers de-duplicate on. Only ready notifications are claimed (`explained_at`).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Double,
    Row,
    case,
    cast,
    delete,
    extract,
    func,
    literal,
    not_,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from monitor.alerts.budget import URGENT_SEVERITIES
from monitor.alerts.payload import AlertStatus, AlertView
from monitor.alerts.ports import (
    Claimed,
    EndpointState,
    EvidenceEvent,
    Explanations,
    Key,
    Notification,
    Revision,
    StoredExplanation,
    Waiting,
)
from monitor.alerts.reasons import merge_reasons
from monitor.alerts.retry import DeliveryStatus
from monitor.alerts.rules import StoryItem, Trigger
from monitor.db.connection import connect, transaction
from monitor.db.schema import (
    OPEN_ALERT,
    AlertDeliveryRow,
    AlertNotificationRow,
    AlertOutboxRow,
    AlertRow,
    EventExplanationRow,
    ScoredEventRow,
    WebhookEndpointRow,
)
from monitor.db.store import SCORE_FIELDS, scores_from_columns
from monitor.masking import Kind
from monitor.stories import STORY_WINDOW_S

A, N, Out, E = AlertRow, AlertNotificationRow, AlertOutboxRow, WebhookEndpointRow
Ev, X = ScoredEventRow, EventExplanationRow
FIRING, RESOLVED = AlertStatus.FIRING, AlertStatus.RESOLVED


def lock_key(rule: str, entity: str) -> int:
    """A stable signed 64-bit advisory-lock key for (rule, entity)."""
    digest = hashlib.blake2b(f"{rule}\x00{entity}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def view(row: Row[Any]) -> AlertView:
    return AlertView(
        id=row.id,
        rule=row.rule,
        severity=row.severity,
        entity=row.entity,
        status=AlertStatus(row.status),
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        event_count=row.event_count,
        evidence=tuple(row.evidence),
        resolved_at=row.resolved_at,
        evidence_details=tuple(row.evidence_details or ()),
        last_notified_at=row.last_notified_at,
    )


def _waiting() -> ColumnElement[bool]:
    return N.explained_at.is_(None)


def _unleased() -> ColumnElement[bool]:
    return or_(N.explaining_until.is_(None), N.explaining_until < func.now())


def _urgent() -> ColumnElement[bool]:
    return func.coalesce(N.payload["severity"].astext, "").in_(sorted(URGENT_SEVERITIES))


def _ago(seconds: float) -> ColumnElement[datetime]:
    return func.now() - timedelta(seconds=seconds)


class AlertTables:
    """The alerts tables inside one open transaction (`monitor.alerts.ports.AlertTables` and
    `ExplainingTables`)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    # The rules' judging and writing.

    async def lock(self, keys: Collection[Key]) -> None:
        ordered = sorted({lock_key(rule, entity) for rule, entity in keys})
        keys_in_order = func.unnest(cast(ordered, ARRAY(BigInteger))).column_valued("k")
        # The scan of `unnest` keeps the array's order.
        await self.conn.execute(select(func.pg_advisory_xact_lock(keys_in_order)))

    async def firing(self, keys: Collection[Key]) -> dict[Key, AlertView]:
        if not keys:
            return {}
        rows = await self.conn.execute(
            select(A).where(tuple_(A.rule, A.entity).in_(list(keys)), A.status == FIRING).with_for_update()
        )
        return {(row.rule, row.entity): view(row) for row in rows}

    async def negative_news(
        self, entity: str, min_confidence: float, lo: datetime, hi: datetime
    ) -> list[StoryItem]:
        rows = await self.conn.execute(
            select(Ev.id, Ev.event_time, Ev.story_id).where(
                Ev.stream == "news",
                Ev.sentiment == "negative",
                Ev.sentiment_confidence >= min_confidence,
                Ev.entities.contains([entity]),
                Ev.event_time.between(lo, hi),
            )
        )
        return [StoryItem(i, t, s if s is not None else -i) for i, t, s in rows]

    async def intent_events(self, intent: str, after: datetime, through: datetime) -> list[tuple[int, datetime]]:
        rows = await self.conn.execute(
            select(Ev.id, Ev.event_time).where(
                Ev.stream == "customer", Ev.intent == intent, Ev.event_time > after, Ev.event_time <= through
            )
        )
        return [(i, t) for i, t in rows]

    async def story_details(
        self, items: Sequence[Mapping[str, Any]], span: tuple[datetime, datetime]
    ) -> tuple[dict[str, Any], ...]:
        """A story's items lie within the story window of `span` (the counted events' times)."""
        if not items:
            return ()
        stories = [int(d["story_id"]) for d in items if int(d["story_id"]) >= 0]
        ids = [-int(d["story_id"]) for d in items if int(d["story_id"]) < 0]
        around = timedelta(seconds=STORY_WINDOW_S)
        order = (Ev.story_first.desc().nulls_last(), Ev.event_time, Ev.id)

        def first(value: Any) -> ColumnElement[Any]:
            return func.array_agg(aggregate_order_by(value, *order))[1]

        story = func.coalesce(Ev.story_id, -Ev.id)
        query = (
            select(
                story.label("story"),
                func.count().label("items"),
                func.count(Ev.payload["source"].astext.distinct()).label("outlets"),
                first(func.split_part(Ev.text, "\n\n", 1)).label("headline"),
                first(Ev.sentiment).label("sentiment"),
                first(Ev.sentiment_score).label("sentiment_score"),
            )
            .where(Ev.stream == "news", Ev.event_time.between(span[0] - around, span[1] + around))
            .where(or_(Ev.story_id.in_(stories), Ev.id.in_(ids)))
            .group_by(story)
        )
        rows = {row.story: row for row in await self.conn.execute(query)}
        out = []
        for d in items:
            row = rows.get(int(d["story_id"]))
            found = {} if row is None else {
                "headline": row.headline,
                "items": row.items,
                "outlets": row.outlets,
                "sentiment": row.sentiment,
                "sentiment_score": round(row.sentiment_score, 4),
            }
            out.append({"event_id": d["event_id"], "story_id": d["story_id"] if int(d["story_id"]) >= 0 else None,
                        **found})
        return tuple(out)

    async def open(self, triggers: Sequence[Trigger], now: datetime) -> list[AlertView]:
        if not triggers:
            return []
        stmt = (
            insert(A)
            .on_conflict_do_nothing(index_elements=["rule", "entity"], index_where=OPEN_ALERT)
            .returning(A)
        )
        rows = [
            {
                "id": uuid.uuid4(),
                "rule": t.rule,
                "severity": t.severity,
                "entity": t.entity,
                "status": FIRING,
                "first_seen": t.first_seen,
                "last_seen": t.last_seen,
                "event_count": t.event_count,
                "evidence": list(t.evidence),
                "evidence_details": [d.as_json() for d in t.details] + list(t.extra_details),
                "created_at": now,
                "updated_at": now,
                "last_notified_at": now,
            }
            for t in triggers
        ]
        return [view(row) for row in await self.conn.execute(stmt, rows)]

    async def revise(self, alert_id: UUID, revision: Revision, now: datetime) -> AlertView:
        values: dict[str, Any] = {
            "evidence": list(revision.evidence),
            "first_seen": revision.first_seen,
            "last_seen": revision.last_seen,
            "event_count": revision.event_count,
            "updated_at": now,
        }
        if revision.evidence_details is not None:
            values["evidence_details"] = list(revision.evidence_details)
        if revision.notified_at is not None:
            values["last_notified_at"] = revision.notified_at
        return view((await self.conn.execute(update(A).where(A.id == alert_id).values(values).returning(A))).one())

    async def resolve(self, alert_id: UUID, details: Sequence[Mapping[str, Any]], now: datetime) -> AlertView:
        resolved = (
            update(A).where(A.id == alert_id)
            .values(status=RESOLVED, resolved_at=now, evidence_details=list(details))
            .returning(A)
        )
        return view((await self.conn.execute(resolved)).one())

    async def resolve_quiet(self, rule: str, quiet_since: datetime, now: datetime) -> list[AlertView]:
        rows = await self.conn.execute(
            update(A)
            .where(A.rule == rule, A.status == FIRING, A.updated_at < quiet_since)
            .values(status=RESOLVED, resolved_at=now)
            .returning(A)
        )
        return [view(row) for row in rows]

    async def notify(self, notifications: Sequence[Notification], endpoints: Sequence[str]) -> None:
        if not notifications:
            return
        await self.conn.execute(
            insert(N),
            [
                {"id": n.id, "alert_id": n.alert_id, "kind": n.kind, "payload": n.payload,
                 "created_at": n.created_at, "explained_at": n.explained_at}
                for n in notifications
            ],
        )
        if endpoints:
            # next_attempt_at and created_at default to the database clock, which the dispatcher
            # compares them with.
            await self.conn.execute(
                insert(Out), [{"notification_id": n.id, "endpoint": url} for n in notifications for url in endpoints]
            )

    # The explainer's.

    async def release_expired(self, timeout_s: float) -> list[UUID]:
        released = (
            update(N)
            .where(_waiting(), _unleased(), N.created_at < _ago(timeout_s))
            .values(explained_at=func.now(), explaining_until=None)
            .returning(N.id)
        )
        return list((await self.conn.execute(released)).scalars())

    async def claim(
        self, *, urgent: bool, limit: int, lease_s: float, timeout_s: float, min_age_s: float
    ) -> list[Waiting]:
        due = (
            select(N.id)
            .where(_waiting(), _unleased(), N.created_at >= _ago(timeout_s), N.created_at <= _ago(min_age_s))
            .where(_urgent() if urgent else not_(_urgent()))
            .order_by(N.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("due")
        )
        age_s = cast(extract("epoch", func.now() - N.created_at), Double).label("age_s")
        lease = (
            update(N)
            .where(N.id == due.c.id)
            .values(explaining_until=func.now() + timedelta(seconds=lease_s))
            .returning(N.id, N.alert_id, N.payload, age_s)
        )
        return [Waiting(r.id, r.alert_id, r.payload, float(r.age_s)) for r in await self.conn.execute(lease)]

    async def routine_waiting(self, timeout_s: float) -> list[UUID]:
        waiting = select(N.id).where(_waiting(), N.created_at >= _ago(timeout_s), not_(_urgent())).limit(1000)
        return list((await self.conn.execute(waiting)).scalars())

    async def confidences(self, ids: Collection[int]) -> dict[int, dict[str, float | None]]:
        if not ids:
            return {}
        rows = await self.conn.execute(
            select(Ev.id, Ev.sentiment_confidence, Ev.intent_confidence).where(Ev.id.in_(list(ids)))
        )
        return {i: {"sentiment_confidence": s, "intent_confidence": t} for i, s, t in rows}

    async def explained(self, ids: Collection[int]) -> list[StoredExplanation]:
        if not ids:
            return []
        rows = await self.conn.execute(
            select(X.event_id, X.model_version, Ev.language, X.sentiment, X.intent)
            .join(Ev, Ev.id == X.event_id)
            .where(X.event_id.in_(list(ids)))
        )
        return [StoredExplanation(r.event_id, r.model_version, r.language, (r.sentiment, r.intent)) for r in rows]

    async def events(self, ids: Collection[int]) -> list[EvidenceEvent]:
        if not ids:
            return []
        scores = [getattr(Ev, name) for name in SCORE_FIELDS]
        rows = await self.conn.execute(
            select(Ev.id, Ev.stream, Ev.text, Ev.language, *scores).where(Ev.id.in_(list(ids)))
        )
        return [EvidenceEvent(r.id, r.stream, r.text, r.language, scores_from_columns(r)) for r in rows]

    async def store_explanations(self, explained: Mapping[int, tuple[str, Explanations]]) -> None:
        if not explained:
            return
        stmt = insert(X)
        # Computed again only under another model version: the newer explanation replaces it.
        await self.conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["event_id"],
                set_={c: stmt.excluded[c] for c in ("model_version", "sentiment", "intent", "created_at")},
            ),
            [
                {"event_id": i, "model_version": version, "sentiment": s, "intent": t}
                for i, (version, (s, t)) in explained.items()
            ],
        )

    async def merge_reasons(
        self, alert_id: UUID, explained: Mapping[int, Mapping[str, Any]], mask_kinds: frozenset[Kind]
    ) -> None:
        """Under the row's lock: a batch adding evidence meanwhile waits, and its details are kept."""
        locked = select(A.evidence, A.evidence_details).where(A.id == alert_id).with_for_update()
        alert = (await self.conn.execute(locked)).first()
        if alert is None:
            return
        details = merge_reasons(alert.evidence_details or [], alert.evidence, explained, mask_kinds)
        await self.conn.execute(update(A).where(A.id == alert_id).values(evidence_details=details))

    async def ready(self, notification_id: UUID, payload: dict[str, Any]) -> None:
        await self.conn.execute(
            update(N)
            .where(N.id == notification_id, _waiting())
            .values(payload=payload, explained_at=func.now(), explaining_until=None)
        )


class AlertsDatabase:
    """Opens `AlertTables` on a transaction of its own (the chores, the explainer)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AlertTables]:
        async with transaction(self.engine) as conn:
            yield AlertTables(conn)


async def firing_alerts(engine: AsyncEngine) -> list[AlertView]:
    """Firing alerts, most recently seen first (for `monitor alerts`)."""
    async with connect(engine) as conn:
        rows = await conn.execute(select(A).where(A.status == FIRING).order_by(A.last_seen.desc()))
        return [view(row) for row in rows]


async def expire(conn: AsyncConnection, cutoff: datetime) -> int:
    """Retention: alerts resolved before `cutoff` go, with their notifications and outbox rows
    (ON DELETE CASCADE), and so do delivery attempts made and explanations computed before it;
    firing alerts stay whatever their age. Returns how many alerts and attempts went."""
    alerts = await conn.execute(delete(A).where(A.status == RESOLVED, A.resolved_at < cutoff))
    attempts = await conn.execute(delete(AlertDeliveryRow).where(AlertDeliveryRow.attempted_at < cutoff))
    await conn.execute(delete(X).where(X.created_at < cutoff))
    return int(alerts.rowcount) + int(attempts.rowcount)


# The dispatcher's.

PENDING, DELIVERED, GAVE_UP, DISABLED = (
    DeliveryStatus.PENDING, DeliveryStatus.DELIVERED, DeliveryStatus.GAVE_UP, DeliveryStatus.DISABLED
)


def _too_old(after: timedelta, give_up_s: float) -> ColumnElement[bool]:
    """The give-up rule, once: a delivery whose next attempt would come `give_up_s` past its
    creation is given up (`after`: how far from now that next attempt is)."""
    return Out.created_at + timedelta(seconds=give_up_s) < func.now() + after


def _of(claimed: Claimed) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return Out.notification_id == claimed.notification_id, Out.endpoint == claimed.endpoint


class Outbox:
    """Delivery state in Postgres, shared by every replica's dispatcher (`monitor.alerts.ports.Outbox`)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def register(self, urls: Sequence[str]) -> None:
        if not urls:
            return
        async with transaction(self.engine) as conn:
            await conn.execute(insert(E).on_conflict_do_nothing(index_elements=["url"]), [{"url": u} for u in urls])

    async def endpoints(self) -> list[EndpointState]:
        """Every endpoint ever configured, with its state and its deliveries still to make."""
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
        async with transaction(self.engine) as conn:
            rows = await conn.execute(counted)
            return [EndpointState(r.url, r.disabled_at, r.disabled_reason, r.pending, r.dropped) for r in rows]

    async def enable(self, url: str, *, resend: bool = False) -> int | None:
        """Clear a disabled endpoint (after its owner fixed it); None if no such endpoint.

        With `resend`, notifications dropped while it was disabled are queued again as new
        (attempts and give-up clock reset); returns how many.
        """
        async with transaction(self.engine) as conn:
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
        async with transaction(self.engine) as conn:
            row = (await conn.execute(select(E.disabled_at, E.disabled_reason).where(E.url == url))).first()
        if row is None or row.disabled_at is None:
            return None
        return str(row.disabled_reason or "disabled")

    async def drop_pending(self, url: str) -> int:
        async with transaction(self.engine) as conn:
            rows = await conn.execute(
                update(Out)
                .where(Out.endpoint == url, Out.status == PENDING)
                .values(status=DISABLED, finished_at=func.now())
                .returning(Out.notification_id)
            )
            return len(rows.all())

    async def give_up_expired(self, url: str, give_up_s: float) -> list[UUID]:
        async with transaction(self.engine) as conn:
            rows = await conn.execute(
                update(Out)
                .where(Out.endpoint == url, Out.status == PENDING, _too_old(timedelta(0), give_up_s))
                .values(
                    status=GAVE_UP, finished_at=func.now(),
                    last_error=func.coalesce(Out.last_error, "no attempt").concat(" (gave up)"),
                )
                .returning(Out.notification_id)
            )
            return list(rows.scalars())

    async def claim(self, url: str, limit: int, lease_s: float) -> list[Claimed]:
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
            .values(attempts=Out.attempts + 1, next_attempt_at=func.now() + timedelta(seconds=lease_s))
            .returning(Out.notification_id, Out.endpoint, Out.attempts, N.payload, N.created_at)
        )
        async with transaction(self.engine) as conn:
            rows = await conn.execute(lease)
            return [Claimed(r.notification_id, r.endpoint, r.attempts, r.payload, r.created_at) for r in rows]

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
        """One transaction: the attempt, the delivery's new status, and a 410's disabling."""
        if outcome == "delivered":
            status: ColumnElement[str] = literal(DELIVERED.value)
        elif outcome == "disable":
            status = literal(DISABLED.value)
        else:
            status = case((_too_old(timedelta(seconds=delay_s), give_up_s), GAVE_UP.value), else_=PENDING.value)
        async with transaction(self.engine) as conn:
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
            recorded = (
                update(Out)
                .where(*_of(claimed))
                .values(
                    status=status,
                    next_attempt_at=func.now() + timedelta(seconds=delay_s),
                    last_status_code=status_code,
                    last_error=error,
                    finished_at=case((status != PENDING.value, func.now()), else_=Out.finished_at),
                )
                .returning(Out.status)
            )
            now = (await conn.execute(recorded)).scalar_one()
            if outcome == "disable":
                await conn.execute(
                    update(E)
                    .where(E.url == claimed.endpoint, E.disabled_at.is_(None))
                    .values(disabled_at=func.now(), disabled_reason=f"HTTP {status_code} Gone")
                )
            return DeliveryStatus(now)
