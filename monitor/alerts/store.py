"""Alerts in Postgres: evaluated inside the transaction that inserts a batch, resolved periodically.

Why the lock: two replicas may each insert part of one entity's burst. Each takes a transaction-
scoped advisory lock on (rule, entity) *after* inserting its events and *before* counting the
window, so whichever counts second waits for the first to commit and then sees both halves: one
of them raises the alert, never neither. The unique partial index on open alerts is the backstop
(`ON CONFLICT DO NOTHING`), so never two either. Locks are taken in one global order (the key),
so two batches touching the same entities cannot deadlock on them.

A batch's alerts cost a few statements, not a few per alert: every lock in one statement, every
open alert looked up in one, the new alerts inserted in one, their notifications and outbox rows in
one each (a storm of fraud reports, each its own customer, is hundreds of alerts in one batch).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Row, bindparam, delete, literal, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from monitor.alerts import rules as r
from monitor.alerts.config import FraudIntent, IntentSpike, NegativeNewsBurst, RulesConfig
from monitor.alerts.payload import AlertView, notification_body, raised_alert
from monitor.alerts.reasons import merge_reasons, needs_explanation
from monitor.batch import AlertEffects
from monitor.db.connection import connect, transaction
from monitor.db.schema import AlertDeliveryRow, AlertNotificationRow, AlertOutboxRow, AlertRow, ScoredEventRow
from monitor.logwatch import LogChange
from monitor.masking import ALL_KINDS, Kind
from monitor.records import ScoredEvent
from monitor.stories import STORY_WINDOW_S

log = structlog.get_logger(__name__)

_LOCK_IN_ORDER = text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k")
"""Advisory locks on the keys, taken in the array's order (the scan of `unnest` keeps it)."""


def lock_key(rule: str, entity: str) -> int:
    """A stable signed 64-bit advisory-lock key for (rule, entity)."""
    digest = hashlib.blake2b(f"{rule}\x00{entity}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def facts(event_id: int, event: ScoredEvent) -> r.EventFacts:
    m, s = event.message, event.scores
    if s is None:
        raise ValueError("an unscored event (a language no model here reads) has nothing for the rules")
    return r.EventFacts(
        id=event_id,
        stream=m.stream,
        event_time=event.event_time,
        entities=event.entities,
        sentiment=s.sentiment,
        sentiment_confidence=s.sentiment_confidence,
        intent=s.intent,
        intent_confidence=s.intent_confidence,
        intent_probabilities=s.intent_probabilities,
        customer_id=m.customer_id,
        story_id=event.story_id,
        reply_id=s.reply_id,
        reply_text=s.reply_text,
        reply_score=s.reply_score,
    )


def view(row: Row[Any]) -> AlertView:
    return AlertView(
        id=row.id,
        rule=row.rule,
        severity=row.severity,
        entity=row.entity,
        status=row.status,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        event_count=row.event_count,
        evidence=tuple(row.evidence),
        resolved_at=row.resolved_at,
        evidence_details=tuple(row.evidence_details or ()),
    )


class AlertStore:
    """Raises, updates and resolves alerts, writing their notifications to the outbox."""

    def __init__(
        self,
        config: RulesConfig,
        endpoints: Sequence[str],
        *,
        explain: bool = False,
        mask_kinds: frozenset[Kind] = ALL_KINDS,
    ) -> None:
        """`explain`: an explainer runs (`monitor.alerts.explainer`), so notifications with
        evidence wait for their reasons before they are sent. `mask_kinds`: the personal
        identifiers masked in webhook bodies."""
        self.config = config
        self.endpoints = tuple(endpoints)
        self.explain = explain
        self.mask_kinds = mask_kinds

    async def on_inserted(
        self, conn: AsyncConnection, events: Sequence[tuple[int, ScoredEvent]]
    ) -> AlertEffects:
        """Apply the rules to a batch's newly inserted events, in the batch's own transaction."""
        now = datetime.now(UTC)
        found = r.candidates(self.config, (facts(i, e) for i, e in events), now)
        if not found:
            return AlertEffects()
        keys = sorted({lock_key(c.rule, c.entity) for c in found})
        await conn.execute(_LOCK_IN_ORDER, {"keys": keys})
        open_rows = await self._open_rows(conn, found)
        again: list[tuple[AlertView, str]] = []
        triggers: list[r.Trigger] = []
        for candidate in found:
            open_row = open_rows.get((candidate.rule, candidate.entity))
            if open_row is None:
                if (trigger := await self._evaluate(conn, candidate)) is not None:
                    triggers.append(trigger)
            elif (alert := await self._update(conn, open_row, candidate, now)) is not None:
                again.append((alert, "repeat"))
        raised = await self.raise_alerts(conn, triggers, now)
        await self.notify(conn, again, now)
        for alert in raised:
            log.warning(
                "alert raised",
                alert_id=str(alert.id),
                rule=alert.rule,
                entity=alert.entity,
                severity=alert.severity,
                event_count=alert.event_count,
            )
        return AlertEffects(tuple(raised_alert(a) for a in raised))

    @staticmethod
    async def _open_rows(conn: AsyncConnection, found: Sequence[r.Candidate]) -> dict[tuple[str, str], Row[Any]]:
        """The candidates' open alerts, locked, by (rule, entity)."""
        rows = await conn.execute(
            select(AlertRow)
            .where(tuple_(AlertRow.rule, AlertRow.entity).in_([(c.rule, c.entity) for c in found]))
            .where(AlertRow.status == "firing")
            .with_for_update()
        )
        return {(row.rule, row.entity): row for row in rows}

    async def raise_alerts(
        self,
        conn: AsyncConnection,
        triggers: Sequence[r.Trigger],
        now: datetime,
    ) -> list[AlertView]:
        """Open an alert for each trigger and write their firing notifications, a statement each;
        a trigger whose (rule, entity) has one open already raises none (the caller holds its
        advisory lock, so that is rare)."""
        if not triggers:
            return []
        stmt = (
            insert(AlertRow)
            .on_conflict_do_nothing(index_elements=["rule", "entity"], index_where=text("status = 'firing'"))
            .returning(AlertRow)
        )
        rows = [
            {
                "id": uuid.uuid4(),
                "rule": t.rule,
                "severity": t.severity,
                "entity": t.entity,
                "status": "firing",
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
        raised = [view(row) for row in await conn.execute(stmt, rows)]
        await self.notify(conn, [(alert, "firing") for alert in raised], now)
        return raised

    async def _update(
        self,
        conn: AsyncConnection,
        row: Row[Any],
        candidate: r.Candidate,
        now: datetime,
    ) -> AlertView | None:
        """Add the candidate's events to an open alert; returns it when it is to be paged again."""
        current = r.OpenAlert(
            row.id,
            tuple(row.evidence),
            row.first_seen,
            row.last_seen,
            row.event_count,
            row.last_notified_at,
        )
        if candidate.rule == r.NEGATIVE_NEWS_BURST:
            # A burst counts stories: only an event of a story the alert does not hold yet is new.
            known = {d.get("story_id") for d in row.evidence_details or ()} | {-i for i in row.evidence}
            fresh = r.first_of_stories(
                r.StoryItem(ev.id, ev.event_time, ev.story) for ev in candidate.events if ev.story not in known
            )
            ids = {s.event_id for s in fresh}
            candidate = replace(candidate, events=tuple(ev for ev in candidate.events if ev.id in ids))
        change = r.update_open(current, candidate, now, r.cooldown_of(self.config, candidate.rule))
        if change is None:
            return None
        values: dict[str, Any] = {
            "evidence": list(change.evidence),
            "first_seen": change.first_seen,
            "last_seen": change.last_seen,
            "event_count": change.event_count,
            "updated_at": now,
        }
        added: list[dict[str, Any]] = [d.as_json() for d in change.details]
        if candidate.rule == r.NEGATIVE_NEWS_BURST:
            items = tuple({"event_id": ev.id, "story_id": ev.story} for ev in candidate.events)
            span = (candidate.events[0].event_time, candidate.events[-1].event_time) if candidate.events else None
            added = list(await story_details(conn, items, span)) if span else []
        if added:
            kept = set(change.evidence)
            details = [*row.evidence_details, *added]
            values["evidence_details"] = [d for d in details if d["event_id"] in kept]
        if change.page_again:
            values["last_notified_at"] = now
        updated = (
            await conn.execute(
                update(AlertRow).where(AlertRow.id == row.id).values(**values).returning(AlertRow)
            )
        ).one()
        log.info(
            "alert updated",
            alert_id=str(row.id),
            rule=row.rule,
            entity=row.entity,
            event_count=change.event_count,
            paged_again=change.page_again,
        )
        return view(updated) if change.page_again else None

    async def _evaluate(self, conn: AsyncConnection, candidate: r.Candidate) -> r.Trigger | None:
        """Count the window in scored_events (every replica's rows) and apply the rule; the rule's
        type says which rows it reads."""
        e = ScoredEventRow
        match self.config.rules.named(candidate.rule):
            case FraudIntent():
                return r.evaluate_fraud(self.config, candidate)
            case NegativeNewsBurst() as rule:
                lo, hi = r.burst_bounds(self.config, candidate.events)
                negative = await conn.execute(
                    select(e.id, e.event_time, e.story_id).where(
                        e.stream == "news",
                        e.sentiment == "negative",
                        e.sentiment_confidence >= rule.min_confidence,
                        e.entities.contains([candidate.entity]),
                        e.event_time.between(lo, hi),
                    )
                )
                items = [r.StoryItem(i, t, s if s is not None else -i) for i, t, s in negative]
                trigger = r.evaluate_burst(self.config, candidate, items)
                if trigger is None:
                    return None
                details = await story_details(conn, trigger.extra_details, (trigger.first_seen, trigger.last_seen))
                return replace(trigger, extra_details=details)
            case IntentSpike():
                lo, hi = r.spike_bounds(self.config, candidate.events)
                rows = await conn.execute(
                    select(e.id, e.event_time).where(
                        e.stream == "customer", e.intent == candidate.entity, e.event_time > lo, e.event_time <= hi
                    )
                )
                return r.evaluate_spike(self.config, candidate, [(i, t) for i, t in rows])
        raise AssertionError(f"no evaluation for rule {candidate.rule!r}")

    async def on_log_change(self, conn: AsyncConnection, change: LogChange) -> None:
        """Raise the topic's `kafka_log_changed` alert in the transaction recording the change.

        One alert per topic: a re-created topic changes every partition, and each partition's
        change joins the open alert's evidence, paging again only after the rule's cooldown.
        """
        rule = self.config.rules.kafka_log_changed
        if not rule.enabled:
            return
        now = datetime.now(UTC)
        await conn.execute(_LOCK_IN_ORDER, {"keys": [lock_key(r.KAFKA_LOG_CHANGED, change.topic)]})
        trigger = r.Trigger(
            rule=r.KAFKA_LOG_CHANGED, entity=change.topic, severity=rule.severity, evidence=(),
            first_seen=now, last_seen=now, event_count=1, extra_details=(change.as_json(),),
        )
        if raised := await self.raise_alerts(conn, [trigger], now):
            log.warning("alert raised", alert_id=str(raised[0].id), rule=r.KAFKA_LOG_CHANGED, entity=change.topic,
                        severity=rule.severity)
            return
        open_alert = AlertRow.rule == r.KAFKA_LOG_CHANGED, AlertRow.entity == change.topic, AlertRow.status == "firing"
        last_notified = (await conn.execute(select(AlertRow.last_notified_at).where(*open_alert))).scalar_one()
        page_again = now - last_notified >= rule.cooldown
        updated = (
            await conn.execute(
                update(AlertRow)
                .where(*open_alert)
                .values(
                    last_seen=now, event_count=AlertRow.event_count + 1, updated_at=now,
                    evidence_details=AlertRow.evidence_details.op("||")(literal([change.as_json()], JSONB)),
                    last_notified_at=now if page_again else last_notified,
                )
                .returning(AlertRow)
            )
        ).one()
        if page_again:
            await self.notify(conn, [(view(updated), "repeat")], now)

    async def notify(self, conn: AsyncConnection, pages: Sequence[tuple[AlertView, str]], now: datetime) -> int:
        """Write a notification of each (alert, kind) and its outbox rows, one per endpoint, in one
        statement each; returns how many notifications."""
        if not pages:
            return 0
        notifications = [
            {
                "id": uuid.uuid4(),
                "alert_id": alert.id,
                "kind": kind,
                "payload": notification_body(alert, kind, now, self.mask_kinds),
                "created_at": now,
                # Not ready until the explainer adds the evidence's reasons (or gives up on them).
                "explained_at": None if self.explain and needs_explanation(kind, alert.evidence) else now,
            }
            for alert, kind in pages
        ]
        await conn.execute(insert(AlertNotificationRow), notifications)
        if self.endpoints:
            # next_attempt_at and created_at default to the database clock, which the dispatcher
            # compares them with.
            await conn.execute(
                insert(AlertOutboxRow),
                [{"notification_id": n["id"], "endpoint": url} for n in notifications for url in self.endpoints],
            )
        return len(notifications)

    @staticmethod
    async def lock(conn: AsyncConnection, rule: str, entity: str) -> None:
        """Take (rule, entity)'s advisory lock for the transaction: one judge at a time, every replica."""
        await conn.execute(_LOCK_IN_ORDER, {"keys": [lock_key(rule, entity)]})

    @staticmethod
    async def open_alert(conn: AsyncConnection, rule: str, entity: str) -> Row[Any] | None:
        """(rule, entity)'s firing alert, locked for the transaction; None when none is open."""
        open_ = select(AlertRow).where(AlertRow.rule == rule, AlertRow.entity == entity, AlertRow.status == "firing")
        return (await conn.execute(open_.with_for_update())).first()

    @staticmethod
    async def replace_evidence(
        conn: AsyncConnection,
        alert_id: uuid.UUID,
        *,
        evidence: Sequence[int],
        last_seen: datetime,
        event_count: int,
        details: Sequence[dict[str, Any]],
        now: datetime,
    ) -> None:
        """An open alert's evidence replaced by the latest (a judged window, not an accumulation);
        no page: `updated_at` moves, which keeps `resolve_after` away."""
        await conn.execute(
            update(AlertRow).where(AlertRow.id == alert_id).values(
                evidence=list(evidence), last_seen=last_seen, event_count=event_count,
                evidence_details=list(details), updated_at=now,
            )
        )

    async def resolve(
        self, conn: AsyncConnection, alert_id: uuid.UUID, details: Sequence[dict[str, Any]], now: datetime
    ) -> AlertView:
        """Resolve one open alert with its final details, and write its resolved notification."""
        row = (
            await conn.execute(
                update(AlertRow).where(AlertRow.id == alert_id)
                .values(status="resolved", resolved_at=now, evidence_details=list(details))
                .returning(AlertRow)
            )
        ).one()
        alert = view(row)
        await self.notify(conn, [(alert, "resolved")], now)
        return alert

    @staticmethod
    async def merge_reasons(
        conn: AsyncConnection,
        alert_id: uuid.UUID,
        explained: Mapping[int, Mapping[str, Any]],
        mask_kinds: frozenset[Kind] = ALL_KINDS,
    ) -> None:
        """The explainer's reasons merged into the alert's evidence details, under the row's lock
        (a batch adding evidence meanwhile waits, and its details are kept)."""
        alert = (
            await conn.execute(
                select(AlertRow.evidence, AlertRow.evidence_details).where(AlertRow.id == alert_id).with_for_update()
            )
        ).first()
        if alert is None:
            return
        details = merge_reasons(alert.evidence_details or [], alert.evidence, explained, mask_kinds)
        await conn.execute(update(AlertRow).where(AlertRow.id == alert_id).values(evidence_details=details))

    @staticmethod
    async def expire(conn: AsyncConnection, cutoff: datetime) -> int:
        """Retention: alerts resolved before `cutoff` go, with their notifications and outbox rows
        (ON DELETE CASCADE), and so do delivery attempts made before it; firing alerts stay
        whatever their age. Returns how many rows went."""
        alerts = await conn.execute(
            delete(AlertRow).where(AlertRow.status == "resolved", AlertRow.resolved_at < cutoff)
        )
        attempts = await conn.execute(delete(AlertDeliveryRow).where(AlertDeliveryRow.attempted_at < cutoff))
        return int(alerts.rowcount) + int(attempts.rowcount)

    async def resolve_stale(self, engine: AsyncEngine) -> list[AlertView]:
        """Resolve firing alerts without new evidence for their rule's `resolve_after`; notify.

        One transaction; raises `StoreUnavailable` when Postgres is away (the next round retries).
        """
        now = datetime.now(UTC)
        resolved: list[AlertView] = []
        async with transaction(engine) as conn:
            for rule, after in r.resolve_after_of(self.config).items():
                rows = await conn.execute(
                    update(AlertRow)
                    .where(AlertRow.rule == rule, AlertRow.status == "firing")
                    .where(AlertRow.updated_at < bindparam("cutoff"))
                    .values(status="resolved", resolved_at=now)
                    .returning(AlertRow),
                    {"cutoff": now - after},
                )
                resolved += [view(row) for row in rows]
            await self.notify(conn, [(alert, "resolved") for alert in resolved], now)
        for alert in resolved:
            log.info("alert resolved", alert_id=str(alert.id), rule=alert.rule, entity=alert.entity)
        return resolved


_STORY_DETAILS = text(
    "SELECT COALESCE(story_id, -id) AS story, count(*) AS items, "
    "count(DISTINCT payload->>'source') AS outlets, "
    "(array_agg(split_part(text, E'\\n\\n', 1) ORDER BY story_first DESC NULLS LAST, event_time, id))[1] AS headline, "
    "(array_agg(sentiment ORDER BY story_first DESC NULLS LAST, event_time, id))[1] AS sentiment, "
    "(array_agg(sentiment_score ORDER BY story_first DESC NULLS LAST, event_time, id))[1] AS sentiment_score "
    "FROM scored_events WHERE stream = 'news' AND event_time BETWEEN :lo AND :hi "
    "AND (story_id = ANY(CAST(:stories AS bigint[])) OR id = ANY(CAST(:ids AS bigint[]))) GROUP BY 1"
)


async def story_details(
    conn: AsyncConnection, items: Sequence[dict[str, Any]], span: tuple[datetime, datetime]
) -> tuple[dict[str, Any], ...]:
    """A burst's evidence, one item per story: the event that counted, the story's first headline,
    how many items and outlets (distinct `source`) carried it, and its first item's sentiment.
    `span`: the counted events' times; a story's items lie within the story window of them."""
    if not items:
        return ()
    stories = [int(d["story_id"]) for d in items if int(d["story_id"]) >= 0]
    ids = [-int(d["story_id"]) for d in items if int(d["story_id"]) < 0]
    around = timedelta(seconds=STORY_WINDOW_S)
    params = {"stories": stories, "ids": ids, "lo": span[0] - around, "hi": span[1] + around}
    rows = {row.story: row for row in await conn.execute(_STORY_DETAILS, params)}
    out = []
    for d in items:
        row = rows.get(int(d["story_id"]))
        out.append(
            {
                "event_id": d["event_id"],
                "story_id": d["story_id"] if int(d["story_id"]) >= 0 else None,
                **(
                    {}
                    if row is None
                    else {
                        "headline": row.headline,
                        "items": row.items,
                        "outlets": row.outlets,
                        "sentiment": row.sentiment,
                        "sentiment_score": round(row.sentiment_score, 4),
                    }
                ),
            }
        )
    return tuple(out)


async def open_alerts(engine: AsyncEngine) -> list[AlertView]:
    """Firing alerts, most recently seen first (for `monitor alerts`)."""
    async with connect(engine) as conn:
        rows = await conn.execute(
            select(AlertRow).where(AlertRow.status == "firing").order_by(AlertRow.last_seen.desc())
        )
        return [view(row) for row in rows]
