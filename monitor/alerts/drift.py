"""The model_drift rule's chore: judge each stream's latest live scores, raise or resolve the alert.

Shared state lives in Postgres: the window is read from `event_scores` (every replica's live
scores by the model version this replica runs, never `monitor rescore`'s), so any replica judges
the same window, and one at a time (a transaction-scoped advisory lock per (rule, entity), the one
`AlertStore` takes for every rule). The alert is raised, refreshed and resolved by the `AlertStore`,
the one writer of the alerts tables, and goes through the outbox like every alert. The statistics
are `monitor.drift`'s; this module only reads scores and decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from monitor import drift
from monitor.alerts import rules as r
from monitor.alerts.config import ModelDrift, RulesConfig
from monitor.alerts.payload import AlertView
from monitor.alerts.ports import AlertTables, Revision
from monitor.alerts.store import AlertStore
from monitor.db.alerts import AlertTables as SqlAlertTables
from monitor.db.connection import transaction
from monitor.db.schema import EventScoreRow
from monitor.metrics import Metrics

log = structlog.get_logger(__name__)

BASELINE_LIMIT = 20_000
"""Most trailing scores one baseline reads (the latest): bounded memory on a busy stream."""

COLUMNS = {
    "sentiment": (EventScoreRow.sentiment, EventScoreRow.sentiment_confidence),
    "intent": (EventScoreRow.intent, EventScoreRow.intent_confidence),
}
"""Each task's label and confidence columns in `event_scores`."""


def live_scores(
    stream: str, task: str, version: str, newer_than: timedelta, older_than: timedelta | None = None
) -> Select[int, datetime, str | None, float | None]:
    """The live scores of `version` on `stream` (event, time, label, confidence), newest first,
    scored within `newer_than` of the database clock (and, given `older_than`, not within it)."""
    label, confidence = COLUMNS[task]
    e = EventScoreRow
    query = select(e.event_id, e.event_time, label.label("label"), confidence.label("confidence")).where(
        e.stream == stream,
        e.model_version == version,
        e.origin == "live",
        label.is_not(None),
        e.scored_at > func.now() - newer_than,
    )
    if older_than is not None:
        query = query.where(e.scored_at <= func.now() - older_than)
    return query.order_by(e.scored_at.desc())


@dataclass(frozen=True, slots=True)
class Window:
    """The latest live predictions of one (stream, task)."""

    ids: tuple[int, ...]
    times: tuple[datetime, ...]
    labels: tuple[str, ...]
    confidences: tuple[float, ...]


class DriftWatch:
    """Judges every watched (stream, task) of one model version; raises and resolves model_drift."""

    def __init__(
        self,
        config: RulesConfig,
        alerts: AlertStore,
        model_version: str,
        reference: drift.Reference | None,
        metrics: Metrics | None = None,
        *,
        language: str | None = None,
    ) -> None:
        self.config = config
        self.alerts = alerts
        self.model_version = model_version
        self.reference = reference
        self.metrics = metrics
        self.language = language
        """Set for a model beside the main one (the Chinese): its alerts' entities name it, and
        the drift gauges, labelled by stream and task alone, stay the main model's."""

    @property
    def rule(self) -> ModelDrift:
        return self.config.rules.model_drift

    def thresholds(self, task: str) -> drift.Thresholds:
        rule = self.rule
        max_psi = rule.max_psi.get("intent" if task == "intent" else "sentiment", drift.DEFAULT_MAX_PSI)
        return drift.Thresholds(rule.min_events, max_psi, rule.max_ks, rule.max_pvalue)

    async def check(self, engine: AsyncEngine) -> list[drift.DriftCheck]:
        """One round: a short transaction per (stream, task). Raises `StoreUnavailable` when
        Postgres is away (the chore runner logs it; the next round retries)."""
        if not self.rule.enabled:
            return []
        done = []
        for stream, task in drift.WATCHED:
            async with transaction(engine) as conn:
                result, raised = await self._check_one(conn, stream, task)
            for alert in raised:  # counted once committed, as the pipeline counts a batch's
                if self.metrics is not None:
                    self.metrics.alerts_raised.labels(rule=alert.rule, severity=alert.severity).inc()
            if result is not None:
                done.append(result)
                if self.metrics is not None and self.language is None:
                    self.metrics.model_drift.labels(stream=stream, task=task).set(result.psi)
                    self.metrics.model_confidence_shift.labels(stream=stream, task=task).set(result.ks)
        log.debug("drift checked", checks=describe(done))
        return done

    async def _check_one(
        self, conn: AsyncConnection, stream: str, task: str
    ) -> tuple[drift.DriftCheck | None, list[AlertView]]:
        """Judge one (stream, task) under its lock; the check (None: nothing to judge) and the
        alerts it raised."""
        entity = drift.entity_of(stream, task, self.language)
        tables = SqlAlertTables(conn)
        await tables.lock([(r.MODEL_DRIFT, entity)])
        window = await self._window(conn, stream, task)
        reference, kind = await self._reference(conn, stream, task)
        if reference is None:
            return None, []
        result = drift.check(
            stream=stream, task=task, labels=window.labels, confidences=window.confidences,
            reference=reference, thresholds=self.thresholds(task), reference_kind=kind, language=self.language,
        )
        if result is None:
            return None, []
        return result, await self._apply(tables, result, window)

    async def _window(self, conn: AsyncConnection, stream: str, task: str) -> Window:
        window = live_scores(stream, task, self.model_version, self.rule.window)
        newest_first = (await conn.execute(window.limit(self.rule.window_events))).all()
        rows = list(reversed(newest_first))  # oldest first
        return Window(
            tuple(row.event_id for row in rows),
            tuple(row.event_time for row in rows),
            tuple(row.label for row in rows),
            tuple(float(row.confidence) for row in rows),
        )

    async def _reference(
        self, conn: AsyncConnection, stream: str, task: str
    ) -> tuple[drift.Distribution | None, str]:
        """The shipped reference of the running model, else the stream's trailing baseline."""
        if self.reference is not None:
            shipped = self.reference.for_(self.model_version, stream, task)
            if shipped is not None:
                return shipped, "shipped"
        rule = self.rule
        baseline = live_scores(stream, task, self.model_version, rule.window + rule.baseline, older_than=rule.window)
        rows = (await conn.execute(baseline.limit(BASELINE_LIMIT))).all()
        if len(rows) < self.rule.min_baseline_events:
            return None, "baseline"
        return drift.summarise([row.label for row in rows], [float(row.confidence) for row in rows]), "baseline"

    async def _apply(self, tables: AlertTables, result: drift.DriftCheck, window: Window) -> list[AlertView]:
        """Raise, refresh or resolve the alert as the check says; returns what it raised."""
        now = self.alerts.clock()
        key = (r.MODEL_DRIFT, result.entity)
        open_alert = (await tables.firing([key])).get(key)
        evidence = window.ids[-r.EVIDENCE_LIMIT :]
        details: tuple[dict[str, object], ...] = (
            {"statistics": result.as_json(), "thresholds": _thresholds_json(self.thresholds(result.task))},
        )
        if result.drifted and open_alert is None:
            trigger = r.Trigger(
                rule=r.MODEL_DRIFT, entity=result.entity, severity=self.rule.severity, evidence=evidence,
                first_seen=min(window.times), last_seen=max(window.times), event_count=result.n,
                extra_details=details,
            )
            raised = await self.alerts.raise_alerts(tables, [trigger], now)
            for alert in raised:
                log.warning("alert raised", alert_id=str(alert.id), rule=alert.rule, entity=alert.entity,
                            severity=alert.severity, **result.as_json())
            return raised
        if result.drifted and open_alert is not None:
            # Still drifted: the latest window replaces the evidence (a judgement, not an
            # accumulation); `updated_at` moves, which keeps the resolve_after backstop away; no page.
            revision = Revision(
                evidence, open_alert.first_seen, max(open_alert.last_seen, *window.times), result.n, details
            )
            await tables.revise(open_alert.id, revision, now)
        elif open_alert is not None:
            alert = await self.alerts.resolve(tables, open_alert.id, details, now)
            log.info("alert resolved", alert_id=str(alert.id), rule=alert.rule, entity=alert.entity,
                     **result.as_json())
        return []


def _thresholds_json(t: drift.Thresholds) -> dict[str, float | int]:
    return {"min_events": t.min_events, "max_psi": t.max_psi, "max_ks": t.max_ks, "max_pvalue": t.max_pvalue}


def describe(checks: Sequence[drift.DriftCheck]) -> list[dict[str, Any]]:
    """The round's statistics, for logs."""
    return [c.as_json() | {"drifted": c.drifted} for c in checks]
