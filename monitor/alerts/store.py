"""Alerts: the rules applied inside the transaction that inserts a batch, resolved periodically.

The rules are pure (`monitor.alerts.rules`); this module applies them to the alerts tables through
`monitor.alerts.ports.AlertTables` (`monitor.db.alerts` in SQL, a fake in the unit tests): lock
the (rule, entity) keys, count the windows, open, revise, page and resolve. Time comes from an
injected clock.

A batch's alerts cost a few statements, not a few per alert: every lock in one statement, every
open alert looked up in one, the new alerts inserted in one, their notifications and outbox rows in
one each (a storm of fraud reports, each its own customer, is hundreds of alerts in one batch).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.alerts import rules as r
from monitor.alerts.config import FraudIntent, IntentSpike, NegativeNewsBurst, RulesConfig
from monitor.alerts.payload import AlertView, Page, notification_body, raised_alert
from monitor.alerts.ports import AlertsDatabase, AlertTables, Notification, Revision
from monitor.alerts.reasons import needs_explanation
from monitor.batch import AlertEffects
from monitor.db import alerts as sql
from monitor.logwatch import LogChange
from monitor.masking import ALL_KINDS, Kind
from monitor.records import ScoredEvent

log = structlog.get_logger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


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


def paged_at(alert: AlertView) -> datetime:
    """When an open alert was last paged (every alert is paged as it opens)."""
    return alert.last_notified_at or alert.first_seen


class AlertStore:
    """Raises, updates and resolves alerts, writing their notifications to the outbox.

    The batch's and the log change's hooks (`monitor.ports.InsertHook`, `LogChangeHook`) open the
    SQL tables on the caller's transaction; `judge` and `log_changed` take any `AlertTables`."""

    def __init__(
        self,
        config: RulesConfig,
        endpoints: Sequence[str],
        *,
        explain: bool = False,
        mask_kinds: frozenset[Kind] = ALL_KINDS,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """`explain`: an explainer runs (`monitor.alerts.explainer`), so notifications with
        evidence wait for their reasons before they are sent. `mask_kinds`: the personal
        identifiers masked in webhook bodies."""
        self.config = config
        self.endpoints = tuple(endpoints)
        self.explain = explain
        self.mask_kinds = mask_kinds
        self.clock = clock

    async def on_inserted(
        self, conn: AsyncConnection, events: Sequence[tuple[int, ScoredEvent]]
    ) -> AlertEffects:
        """Apply the rules to a batch's newly inserted events, in the batch's own transaction."""
        return await self.judge(sql.AlertTables(conn), [facts(i, e) for i, e in events])

    async def on_log_change(self, conn: AsyncConnection, change: LogChange) -> None:
        """Raise the topic's alert in the transaction recording the change."""
        await self.log_changed(sql.AlertTables(conn), change)

    async def judge(self, tables: AlertTables, events: Sequence[r.EventFacts]) -> AlertEffects:
        """Apply the rules to newly stored events: open, extend or page again their alerts."""
        now = self.clock()
        found = r.candidates(self.config, events, now)
        if not found:
            return AlertEffects()
        await tables.lock({(c.rule, c.entity) for c in found})
        open_alerts = await tables.firing([(c.rule, c.entity) for c in found])
        again: list[tuple[AlertView, Page]] = []
        triggers: list[r.Trigger] = []
        for candidate in found:
            open_alert = open_alerts.get((candidate.rule, candidate.entity))
            if open_alert is None:
                if (trigger := await self._evaluate(tables, candidate)) is not None:
                    triggers.append(trigger)
            elif (alert := await self._update(tables, open_alert, candidate, now)) is not None:
                again.append((alert, Page.REPEAT))
        raised = await self.raise_alerts(tables, triggers, now)
        await self.notify(tables, again, now)
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

    async def raise_alerts(self, tables: AlertTables, triggers: Sequence[r.Trigger], now: datetime) -> list[AlertView]:
        """Open an alert for each trigger and write their firing notifications; a trigger whose
        (rule, entity) has one open already raises none (the caller holds its lock, so that is rare)."""
        raised = await tables.open(triggers, now)
        await self.notify(tables, [(alert, Page.FIRING) for alert in raised], now)
        return raised

    async def _update(
        self, tables: AlertTables, alert: AlertView, candidate: r.Candidate, now: datetime
    ) -> AlertView | None:
        """Add the candidate's events to an open alert; returns it when it is to be paged again."""
        current = r.OpenAlert(
            str(alert.id), alert.evidence, alert.first_seen, alert.last_seen, alert.event_count, paged_at(alert)
        )
        if candidate.rule == r.NEGATIVE_NEWS_BURST:
            # A burst counts stories: only an event of a story the alert does not hold yet is new.
            known = {d.get("story_id") for d in alert.evidence_details} | {-i for i in alert.evidence}
            fresh = r.first_of_stories(
                r.StoryItem(ev.id, ev.event_time, ev.story) for ev in candidate.events if ev.story not in known
            )
            ids = {s.event_id for s in fresh}
            candidate = replace(candidate, events=tuple(ev for ev in candidate.events if ev.id in ids))
        change = r.update_open(current, candidate, now, r.cooldown_of(self.config, candidate.rule))
        if change is None:
            return None
        added: list[dict[str, Any]] = [d.as_json() for d in change.details]
        if candidate.rule == r.NEGATIVE_NEWS_BURST:
            items = tuple({"event_id": ev.id, "story_id": ev.story} for ev in candidate.events)
            span = (candidate.events[0].event_time, candidate.events[-1].event_time) if candidate.events else None
            added = list(await tables.story_details(items, span)) if span else []
        details = None
        if added:
            kept = set(change.evidence)
            details = tuple(d for d in (*alert.evidence_details, *added) if d["event_id"] in kept)
        revision = Revision(
            change.evidence, change.first_seen, change.last_seen, change.event_count, details,
            notified_at=now if change.page_again else None,
        )
        updated = await tables.revise(alert.id, revision, now)
        log.info(
            "alert updated",
            alert_id=str(alert.id),
            rule=alert.rule,
            entity=alert.entity,
            event_count=change.event_count,
            paged_again=change.page_again,
        )
        return updated if change.page_again else None

    async def _evaluate(self, tables: AlertTables, candidate: r.Candidate) -> r.Trigger | None:
        """Count the window in the stored events (every replica's) and apply the rule."""
        match self.config.rules.named(candidate.rule):
            case FraudIntent():
                return r.evaluate_fraud(self.config, candidate)
            case NegativeNewsBurst() as rule:
                lo, hi = r.burst_bounds(self.config, candidate.events)
                items = await tables.negative_news(candidate.entity, rule.min_confidence, lo, hi)
                trigger = r.evaluate_burst(self.config, candidate, items)
                if trigger is None:
                    return None
                details = await tables.story_details(trigger.extra_details, (trigger.first_seen, trigger.last_seen))
                return replace(trigger, extra_details=details)
            case IntentSpike():
                lo, hi = r.spike_bounds(self.config, candidate.events)
                return r.evaluate_spike(self.config, candidate, await tables.intent_events(candidate.entity, lo, hi))
        raise AssertionError(f"no evaluation for rule {candidate.rule!r}")

    async def log_changed(self, tables: AlertTables, change: LogChange) -> None:
        """Raise the topic's `kafka_log_changed` alert.

        One alert per topic: a re-created topic changes every partition, and each partition's
        change joins the open alert's evidence, paging again only after the rule's cooldown.
        """
        rule = self.config.rules.kafka_log_changed
        if not rule.enabled:
            return
        now = self.clock()
        key = (r.KAFKA_LOG_CHANGED, change.topic)
        await tables.lock([key])
        trigger = r.Trigger(
            rule=r.KAFKA_LOG_CHANGED, entity=change.topic, severity=rule.severity, evidence=(),
            first_seen=now, last_seen=now, event_count=1, extra_details=(change.as_json(),),
        )
        if raised := await self.raise_alerts(tables, [trigger], now):
            log.warning("alert raised", alert_id=str(raised[0].id), rule=r.KAFKA_LOG_CHANGED, entity=change.topic,
                        severity=rule.severity)
            return
        alert = (await tables.firing([key]))[key]
        page_again = now - paged_at(alert) >= rule.cooldown
        revision = Revision(
            (), alert.first_seen, now, alert.event_count + 1, (*alert.evidence_details, change.as_json()),
            notified_at=now if page_again else None,
        )
        updated = await tables.revise(alert.id, revision, now)
        if page_again:
            await self.notify(tables, [(updated, Page.REPEAT)], now)

    async def notify(self, tables: AlertTables, pages: Sequence[tuple[AlertView, Page]], now: datetime) -> None:
        """Write a notification of each (alert, kind) and its outbox rows, one per endpoint."""
        notifications = [
            Notification(
                uuid.uuid4(),
                alert.id,
                kind,
                notification_body(alert, kind, now, self.mask_kinds),
                now,
                # Not ready until the explainer adds the evidence's reasons (or gives up on them).
                explained_at=None if self.explain and needs_explanation(kind, alert.evidence) else now,
            )
            for alert, kind in pages
        ]
        await tables.notify(notifications, self.endpoints)

    async def resolve(
        self, tables: AlertTables, alert_id: uuid.UUID, details: Sequence[dict[str, Any]], now: datetime
    ) -> AlertView:
        """Resolve one open alert with its final details, and write its resolved notification."""
        alert = await tables.resolve(alert_id, details, now)
        await self.notify(tables, [(alert, Page.RESOLVED)], now)
        return alert

    async def resolve_stale(self, database: AlertsDatabase) -> list[AlertView]:
        """Resolve firing alerts without new evidence for their rule's `resolve_after`; notify.

        One transaction; raises `StoreUnavailable` when Postgres is away (the next round retries).
        """
        now = self.clock()
        resolved: list[AlertView] = []
        async with database.transaction() as tables:
            for rule, after in r.resolve_after_of(self.config).items():
                resolved += await tables.resolve_quiet(rule, now - after, now)
            await self.notify(tables, [(alert, Page.RESOLVED) for alert in resolved], now)
        for alert in resolved:
            log.info("alert resolved", alert_id=str(alert.id), rule=alert.rule, entity=alert.entity)
        return resolved
